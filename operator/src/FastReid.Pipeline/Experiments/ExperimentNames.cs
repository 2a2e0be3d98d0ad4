using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Experiments;

/// <summary>
/// Deterministic names and labels for an experiment's children. A run is named after the experiment plus a
/// digest of its uid and of the spec fields that change what is trained, so a restarted operator finds the
/// same children, and a spec change (a new generation) names a new run.
/// </summary>
public static class ExperimentNames
{
    public const string ManagedBy = "fastreid-operator";
    public const string RunLabel = "fastreid.io/run";
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string CompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index";
    public const string TrainerContainer = TrainerPod.Container;

    private const int NamePrefixLength = 40;

    /// <summary>
    /// The config key that carries this experiment's training budget, when it is given one from outside (a
    /// TuneSweep's trial): a change of that key alone keeps <see cref="RunId"/>, so a promotion resumes the run's
    /// own checkpoint with the larger budget instead of training afresh.
    /// </summary>
    public const string BudgetKeyAnnotation = "fastreid.io/budget-key";

    /// <summary>Name of the ConfigMap, headless Service and Job of the experiment's current run.</summary>
    public static string RunName(ReidExperiment experiment) => ChildName(experiment.Metadata.Name, SpecDigest(experiment));

    /// <summary>
    /// The trainer's run id (FASTREID_RUN_ID, recorded in every checkpoint; RESUME auto takes only its own run's):
    /// the <see cref="RunName"/>, except for an experiment with a <see cref="BudgetKeyAnnotation"/>, whose digest
    /// leaves that config key out. Its Job is still new when the budget changes (the run name follows the whole
    /// spec), but the new Job resumes the old one's checkpoints, which the trainer allows for a budget key.
    /// </summary>
    public static string RunId(ReidExperiment experiment)
    {
        if (BudgetKey(experiment) is not { } key) return RunName(experiment);
        var spec = JsonNode.Parse(ApiJson.Serialize(experiment.Spec))!.AsObject();
        if (spec["config"] is JsonObject config) SpecConfig.Remove(config, key);
        return ChildName(experiment.Metadata.Name, SpecDigest(experiment.Metadata.Uid, spec));
    }

    /// <summary>The <see cref="BudgetKeyAnnotation"/>, or null when the experiment has none.</summary>
    public static string? BudgetKey(ReidExperiment experiment) =>
        experiment.Metadata.Annotations?.GetValueOrDefault(BudgetKeyAnnotation) is { Length: > 0 } key ? key : null;


    /// <summary>
    /// A child's name: the owner's name (at most 40 characters, dots as dashes) and a digest. A Service name is
    /// a DNS-1035 label, so it starts with a letter.
    /// </summary>
    public static string ChildName(string? ownerName, string digest)
    {
        var name = (ownerName ?? "").Replace('.', '-');
        var prefix = name.Length > NamePrefixLength ? name[..NamePrefixLength].TrimEnd('-') : name;
        if (prefix.Length == 0 || !char.IsAsciiLetterLower(prefix[0])) prefix = "r" + prefix;
        return $"{prefix}-{digest}";
    }

    /// <summary>10 hex digits over uid + the training-relevant spec (all but <see cref="RemoveRunlessPolicy"/>'s fields).</summary>
    public static string SpecDigest(ReidExperiment experiment) => SpecDigest(experiment.Metadata.Uid, experiment.Spec);

    /// <summary>10 hex digits over a uid and a spec, less <see cref="RemoveRunlessPolicy"/>'s fields (they change nothing a run makes).</summary>
    public static string SpecDigest<TSpec>(string? uid, TSpec spec)
    {
        var json = JsonNode.Parse(ApiJson.Serialize(spec))!.AsObject();
        RemoveRunlessPolicy(json);
        var canonical = Canonical(json)!.ToJsonString();
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes((uid ?? "") + "\n" + canonical));
        return Convert.ToHexStringLower(bytes)[..10];
    }

    /// <summary>
    /// The runPolicy fields that change nothing a run makes, so a change of them keeps the run: suspend,
    /// ttlSecondsAfterFinished and pendingDeadlineSeconds (raising a deadline must not restart a training that runs).
    /// </summary>
    public static void RemoveRunlessPolicy(JsonObject spec)
    {
        if (spec["runPolicy"] is not JsonObject runPolicy) return;
        runPolicy.Remove("suspend");
        runPolicy.Remove("ttlSecondsAfterFinished");
        runPolicy.Remove("pendingDeadlineSeconds");
    }

    /// <summary>Labels on every child and on the pods.</summary>
    public static Dictionary<string, string> Labels(ReidExperiment experiment, string runName) => new()
    {
        [ManagedByLabel] = ManagedBy,
        [ResourceKinds.ReidExperiment.OwnerLabel] = experiment.Metadata.Name ?? "",
        [RunLabel] = runName,
    };

    /// <summary>
    /// The JSON of <paramref name="value"/> with object keys in ordinal order: equal for equal values, whichever
    /// order a server wrote the keys in (the API server sorts them, a config tree keeps the user's order).
    /// </summary>
    public static string CanonicalJson<T>(T value) => Canonical(JsonNode.Parse(ApiJson.Serialize(value)))?.ToJsonString() ?? "null";

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Canonical).ToArray()),
        _ => node?.DeepClone(),
    };
}
