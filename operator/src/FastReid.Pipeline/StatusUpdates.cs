using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using FastReid.Contracts;

namespace FastReid.Pipeline;

/// <summary>Status steps every planner takes the same way, whatever its kind.</summary>
public static class StatusUpdates
{
    /// <summary>A deep copy: planners never mutate the status they were given.</summary>
    public static T Copy<T>(T status) where T : ResourceStatus => ApiJson.Deserialize<T>(ApiJson.Serialize(status));

    /// <summary>True when writing <paramref name="next"/> would change what the API server holds.</summary>
    public static bool Differs<T>(T? current, T next) where T : ResourceStatus =>
        current is null || ApiJson.Serialize(current) != ApiJson.Serialize(next);

    /// <summary>
    /// Marks <paramref name="status"/> InvalidSpec (the first five errors, each naming its field) for this
    /// generation; returns the Warning event to record, or null when the same errors were already reported.
    /// </summary>
    public static PlannedEvent? MarkInvalid(ResourceStatus status, IEnumerable<Condition>? previousConditions, IReadOnlyList<FieldError> errors, long generation, DateTimeOffset now)
    {
        var shown = string.Join("; ", errors.Take(5).Select(e => e.ToString()));
        if (errors.Count > 5) shown += $" (and {errors.Count - 5} more)";
        shown = Redactor.Patterns.Redact(shown); // as the condition keeps it, so the same errors are recognised
        var before = Conditions.Find(previousConditions, ConditionTypes.InvalidSpec);
        status.Conditions = Conditions.Set(status.Conditions, new Condition
        {
            Type = ConditionTypes.InvalidSpec, Status = "True", Reason = "InvalidSpec", Message = shown, ObservedGeneration = generation,
        }, now);
        status.ObservedGeneration = generation;
        return before is { Status: "True" } && before.Message == shown ? null : new PlannedEvent(PlannedEvent.Warning, "InvalidSpec", shown);
    }

    /// <summary>The reason of condition Failed when the API server refused a child the plan made.</summary>
    public const string ChildRejected = "ChildRejected";

    /// <summary>
    /// Marks <paramref name="status"/> Failed with reason <see cref="ChildRejected"/> and the server's message, for
    /// this generation: the children of the plan could not all be made, so nothing runs (Created and Running, where
    /// the plan set them, say so). Returns the Warning event to record, or null when the same rejection was
    /// already reported.
    /// </summary>
    public static PlannedEvent? MarkRejected(ResourceStatus status, IEnumerable<Condition>? previousConditions, string message, long generation, DateTimeOffset now)
    {
        status.Phase = Phases.Failed;
        status.CompletionTime ??= now;
        status.ObservedGeneration = generation;
        Condition Rejected(string type, string text) =>
            new() { Type = type, Status = type == ConditionTypes.Failed ? "True" : "False", Reason = ChildRejected, Message = text, ObservedGeneration = generation };
        status.Conditions = Conditions.Set(status.Conditions, Rejected(ConditionTypes.Failed, message), now);
        foreach (var type in new[] { ConditionTypes.Created, ConditionTypes.Running })
            if (Conditions.Find(status.Conditions, type) is not null)
                status.Conditions = Conditions.Set(status.Conditions, Rejected(type, "a child was rejected by the API server (see condition Failed)"), now);
        var before = Conditions.Find(previousConditions, ConditionTypes.Failed);
        return before is { Status: "True", Reason: ChildRejected } && before.Message == message && before.ObservedGeneration == generation
            ? null
            : new PlannedEvent(PlannedEvent.Warning, ChildRejected, message);
    }

    /// <summary>
    /// The server's message when <paramref name="status"/> records a rejected child for this generation (then
    /// nothing is sent again until the spec changes), else null.
    /// </summary>
    public static string? RejectedChild(ResourceStatus? status, long generation) =>
        Conditions.Find(status?.Conditions, ConditionTypes.Failed) is { Status: "True", Reason: ChildRejected } failed && failed.ObservedGeneration == generation
            ? failed.Message ?? ""
            : null;

    /// <summary>
    /// Events for what changed since the previous status, compared only within one run: the phase reached
    /// (with the matching condition's message) and a new pod failure.
    /// </summary>
    public static IEnumerable<PlannedEvent> Transitions(ResourceStatus previous, ResourceStatus next, bool sameRun)
    {
        string? before = sameRun ? previous.Phase : null;
        if (next.Phase != before)
        {
            switch (next.Phase)
            {
                case Phases.Running:
                    yield return new(PlannedEvent.Normal, "Running", Conditions.Find(next.Conditions, ConditionTypes.Running)?.Message ?? "running");
                    break;
                case Phases.Succeeded:
                    yield return new(PlannedEvent.Normal, "Succeeded", Conditions.Find(next.Conditions, ConditionTypes.Succeeded)?.Message ?? "succeeded");
                    break;
                case Phases.Failed:
                    yield return new(PlannedEvent.Warning, "Failed", Conditions.Find(next.Conditions, ConditionTypes.Failed)?.Message ?? "failed");
                    break;
            }
        }
        var restarting = Conditions.Find(next.Conditions, ConditionTypes.Restarting);
        var was = sameRun ? Conditions.Find(previous.Conditions, ConditionTypes.Restarting) : null;
        if (restarting is { Status: "True" } && restarting.Message != was?.Message)
            yield return new(PlannedEvent.Warning, "Restarting", restarting.Message ?? "a pod failed");
    }

    /// <summary>
    /// "; last pod said: …" for a pod's termination message, or nothing; <paramref name="source"/> names who said
    /// it instead of "last pod" (an init container that failed, so the trainer never ran).
    /// </summary>
    public static string PodDetail(string? podMessage, string? source = null)
    {
        if (string.IsNullOrWhiteSpace(podMessage)) return source is null ? "" : $"; {source} failed";
        return $"; {source ?? "last pod"} said: {PodTail(podMessage)}";
    }

    /// <summary>
    /// A failed pod's message is the tail of its log (FallbackToLogsOnError), whose last lines are the error, so a
    /// long one keeps its end, not its start.
    /// </summary>
    public static string PodTail(string podMessage)
    {
        var text = podMessage.Trim();
        return text.Length <= PodDetailLength ? text : "…" + text[^PodDetailLength..];
    }

    /// <summary>Room for one trainer error line with two sha256 digests and a URI.</summary>
    public const int PodDetailLength = 600;
}
