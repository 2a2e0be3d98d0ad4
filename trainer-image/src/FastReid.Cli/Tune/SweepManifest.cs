using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Tune;

namespace FastReid.Cli.Tune;

/// <summary>A TuneSweep manifest read and checked as the operator checks it, with its search space and algorithm.</summary>
internal sealed record SweepManifest(string Path, TuneSweep Sweep, SearchSpace Space, ISearchAlgorithm Algorithm)
{
    private static JsonSerializerOptions Strict => Pipeline.PipelineManifest.Strict;

    /// <summary>
    /// The one TuneSweep in <paramref name="path"/>. Every problem is reported at once, each as
    /// <c>FILE: FIELD: message</c>, in a <see cref="FastReidException"/>. <paramref name="training"/>: trials are
    /// training runs, so the budget key must be one the trainer can run for.
    /// </summary>
    public static SweepManifest Load(string path, bool training)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FastReidException($"cannot read the sweep manifest '{path}': {e.Message}", e);
        }
        List<JsonNode?> documents;
        try { documents = ManifestYaml.Documents(text, path); }
        catch (FormatException e) { throw new FastReidException(e.Message, e); }

        var sweeps = documents.OfType<JsonObject>().Where(d => (string?)d["kind"] == ResourceKinds.TuneSweep.Kind).ToList();
        if (sweeps.Count != 1)
        {
            var kinds = documents.OfType<JsonObject>().Select(d => (string?)d["kind"] ?? "(no kind)").ToList();
            throw new FastReidException($"{path}: expected one TuneSweep, found {sweeps.Count}" +
                (kinds.Count > 0 ? $" (documents: {string.Join(", ", kinds)})" : " (the file has no documents)"));
        }
        var json = sweeps[0];
        if ((string?)json["apiVersion"] != ApiGroup.ApiVersion)
            throw Invalid(path, [new("apiVersion", $"must be {ApiGroup.ApiVersion}, got '{(string?)json["apiVersion"]}'")]);

        TuneSweep sweep;
        try { sweep = json.Deserialize<TuneSweep>(Strict) ?? throw new JsonException("the manifest is null"); }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : "(document)";
            throw Invalid(path, [new(field, e.Message.Split(" Path:")[0])]);
        }

        var errors = new List<FieldError>(Validation.Validate(sweep));
        errors.AddRange(SpecConfig.Validate(sweep.Spec.Template.Config ?? [], "spec.template.config"));
        Validation.CheckLocalLocations(sweep.Spec.Template, "spec.template", errors);
        var space = SearchSpace.Parse(sweep.Spec.SearchSpace, errors);
        var algorithm = space is null ? null : SearchAlgorithms.Create(sweep.Spec, space, errors);
        var budgetKey = sweep.Spec.Budget?.Key ?? BudgetKeys.MaxEpoch.Key;
        if (training && BudgetKeys.Find(budgetKey) is null)
            errors.Add(new("spec.budget.key", $"'{budgetKey}' cannot carry a training budget (known: {string.Join(", ", BudgetKeys.All.Select(b => b.Key))})"));
        if (errors.Count > 0 || space is null || algorithm is null) throw Invalid(path, errors);
        return new SweepManifest(path, sweep, space, algorithm);
    }

    private static FastReidException Invalid(string path, IReadOnlyList<FieldError> errors) =>
        new($"{path} is not a valid TuneSweep:{string.Concat(errors.Select(e => $"\n  {path}: {e.Path}: {e.Message}"))}");
}
