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

    /// <summary>Name of the ConfigMap, headless Service and Job of the experiment's current run.</summary>
    public static string RunName(ReidExperiment experiment) => ChildName(experiment.Metadata.Name, SpecDigest(experiment));

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

    /// <summary>10 hex digits over uid + the training-relevant spec (all but runPolicy.suspend and ttlSecondsAfterFinished).</summary>
    public static string SpecDigest(ReidExperiment experiment) => SpecDigest(experiment.Metadata.Uid, experiment.Spec);

    /// <summary>10 hex digits over a uid and a spec, less runPolicy.suspend and ttlSecondsAfterFinished (they change nothing a run makes).</summary>
    public static string SpecDigest<TSpec>(string? uid, TSpec spec)
    {
        var json = JsonNode.Parse(ApiJson.Serialize(spec))!.AsObject();
        if (json["runPolicy"] is JsonObject runPolicy)
        {
            runPolicy.Remove("suspend");
            runPolicy.Remove("ttlSecondsAfterFinished");
        }
        var canonical = Canonical(json)!.ToJsonString();
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes((uid ?? "") + "\n" + canonical));
        return Convert.ToHexStringLower(bytes)[..10];
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
