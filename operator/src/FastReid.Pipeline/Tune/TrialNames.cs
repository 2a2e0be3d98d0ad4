using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;

namespace FastReid.Pipeline.Tune;

/// <summary>
/// Deterministic names, labels and annotations of a TuneSweep's children. A sweep's <b>search</b> is a digest of
/// its uid and of what is searched (template, search space, objective, algorithm, budget, validation): a change
/// of those is a new search, whose trials never mix with an older one's. The limits (parallelism, maxTrials,
/// maxFailedTrials) and <c>template.runPolicy.suspend</c> / <c>ttlSecondsAfterFinished</c> are left out: raising
/// maxTrials or pausing the sweep continues the same search. Trial <c>n</c> of a search is named
/// <c>&lt;sweep&gt;-&lt;search[..6]&gt;-&lt;n&gt;</c> and the search's one test-set run
/// <c>&lt;sweep&gt;-&lt;search[..6]&gt;-test</c> (<see cref="ExperimentNames.ChildName"/>'s rules: at most 53
/// characters), so an operator that lost its caches (or was restarted) plans the same names and cannot make a
/// second copy of a trial.
/// </summary>
public static class TrialNames
{
    /// <summary>Label with the search a child belongs to (<c>kubectl get rexp -l fastreid.io/search=...</c>).</summary>
    public const string SearchLabel = "fastreid.io/search";

    /// <summary>Annotation with the trial's <see cref="TrialRecord"/> (JSON): what the search gave it.</summary>
    public const string TrialAnnotation = "fastreid.io/trial";

    /// <summary>Annotation of the test-set run: the id of the trial whose configuration it trains.</summary>
    public const string TestRunAnnotation = "fastreid.io/test-of-trial";

    /// <summary>Annotation on a child the sweep stopped (and suspended): why.</summary>
    public const string StoppedAnnotation = "fastreid.io/stopped";

    private const int SearchPrefix = 6;

    /// <summary>10 hex digits over the sweep's uid and the spec fields that define the search.</summary>
    public static string Search(TuneSweep sweep)
    {
        var spec = JsonNode.Parse(ApiJson.Serialize(sweep.Spec))!.AsObject();
        spec.Remove("parallelism");
        spec.Remove("maxTrials");
        spec.Remove("maxFailedTrials");
        if (spec["template"] is JsonObject template) ExperimentNames.RemoveRunlessPolicy(template);
        return ExperimentNames.SpecDigest(sweep.Metadata.Uid, spec);
    }

    public static string TrialName(string? sweepName, string search, int id) =>
        ExperimentNames.ChildName(sweepName, string.Create(CultureInfo.InvariantCulture, $"{search[..SearchPrefix]}-{id}"));

    public static string TestName(string? sweepName, string search) => ExperimentNames.ChildName(sweepName, $"{search[..SearchPrefix]}-test");

    /// <summary>Labels on every child of the sweep: the owner's name (<c>fastreid.io/sweep</c>) and the search.</summary>
    public static Dictionary<string, string> Labels(TuneSweep sweep, string search) => new()
    {
        [ExperimentNames.ManagedByLabel] = ExperimentNames.ManagedBy,
        [ResourceKinds.TuneSweep.OwnerLabel] = sweep.Metadata.Name ?? "",
        [SearchLabel] = search,
    };

    public static string? SearchOf(ReidExperiment child) => child.Metadata.Labels?.GetValueOrDefault(SearchLabel);

    public static string? StoppedReason(ReidExperiment child) => child.Metadata.Annotations?.GetValueOrDefault(StoppedAnnotation);
}

/// <summary>
/// What a trial's child ReidExperiment records of the search (the <see cref="TrialNames.TrialAnnotation"/>), so
/// the sweep's state is rebuilt from its children: the trial's id and sampled values, its bracket, the budget the
/// algorithm gave it (&lt;= 0: the template's own), and the objective of every budget it finished before a
/// promotion gave it a larger one. The result at the current budget is the child's own status.
/// </summary>
public sealed class TrialRecord
{
    public int Id { get; set; }
    public JsonObject Params { get; set; } = [];
    public int Bracket { get; set; }
    public double Budget { get; set; }
    public List<TrialResult> Results { get; set; } = [];

    public string ToJson() => ApiJson.Serialize(this);

    /// <summary>The record on a child, or null when it has none or it does not parse (a child edited by hand).</summary>
    public static TrialRecord? Of(ReidExperiment child)
    {
        if (child.Metadata.Annotations?.GetValueOrDefault(TrialNames.TrialAnnotation) is not { Length: > 0 } json) return null;
        try
        {
            return ApiJson.Deserialize<TrialRecord>(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
