using System.ComponentModel;

namespace FastReid.Api.V1Alpha1;

/// <summary>A Kubernetes-convention condition: keyed by <see cref="Type"/>, CamelCase reason, human message.</summary>
public sealed record Condition
{
    [System.ComponentModel.DataAnnotations.Required, Description("Condition type, e.g. Created, Running, Succeeded, Failed, InvalidSpec.")]
    public string Type { get; init; } = "";
    [Description("True, False or Unknown.")]
    [System.ComponentModel.DataAnnotations.AllowedValues("True", "False", "Unknown")]
    public string Status { get; init; } = "Unknown";
    [Description("CamelCase reason for the last transition.")]
    public string? Reason { get; init; }
    [Description("Human-readable details.")]
    public string? Message { get; init; }
    [Description("The metadata.generation this condition was computed from.")]
    public long? ObservedGeneration { get; init; }
    public DateTimeOffset? LastTransitionTime { get; init; }
}

/// <summary>The condition types the controllers set.</summary>
public static class ConditionTypes
{
    public const string InvalidSpec = "InvalidSpec";
    public const string Created = "Created";
    public const string Running = "Running";
    public const string Restarting = "Restarting";
    /// <summary>Every pod of the active run has started; False names the pod and the kubelet's or scheduler's reason when one is stuck.</summary>
    public const string PodsReady = "PodsReady";
    public const string Suspended = "Suspended";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    /// <summary>An ExportJob's model and config are known (its experiment succeeded, or URIs were given).</summary>
    public const string SourceReady = "SourceReady";
    /// <summary>Every teacher of a DistillJob has a model and config (its experiment succeeded, or URIs were given).</summary>
    public const string TeachersReady = "TeachersReady";
    /// <summary>The spec asks for something this operator cannot do yet (ExportJob format tensorrt).</summary>
    public const string Unsupported = "Unsupported";
}

/// <summary>Pure helpers over condition lists: one entry per type, transition time kept while status is unchanged.</summary>
public static class Conditions
{
    public static Condition? Find(IEnumerable<Condition>? conditions, string type) =>
        conditions?.FirstOrDefault(c => c.Type == type);

    public static bool IsTrue(IEnumerable<Condition>? conditions, string type) => Find(conditions, type)?.Status == "True";

    /// <summary>
    /// Returns <paramref name="conditions"/> with <paramref name="next"/> set; the previous
    /// lastTransitionTime survives when the status did not flip, so repeated reconciles write nothing new.
    /// </summary>
    public static List<Condition> Set(IEnumerable<Condition>? conditions, Condition next, DateTimeOffset now)
    {
        var list = conditions?.ToList() ?? [];
        var index = list.FindIndex(c => c.Type == next.Type);
        var previous = index >= 0 ? list[index] : null;
        var transition = previous is not null && previous.Status == next.Status && previous.LastTransitionTime is not null
            ? previous.LastTransitionTime
            : now;
        // messages quote spec fields (URIs, endpoints) as given: no credential reaches the status
        var merged = next with { LastTransitionTime = transition, Message = next.Message is null ? null : Redactor.Patterns.Redact(next.Message) };
        if (index >= 0) list[index] = merged; else list.Add(merged);
        return list;
    }
}
