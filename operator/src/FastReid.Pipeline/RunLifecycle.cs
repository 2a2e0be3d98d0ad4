using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using FastReid.Contracts;

namespace FastReid.Pipeline;

/// <summary>The trainer's exit codes that end a Job at once (podFailurePolicy FailJob): retrying cannot help.</summary>
public static class TrainerExitCodes
{
    /// <summary>A usage error (a flag, a config key or value), also a resume refused because the checkpoint was trained with another config.</summary>
    public const int Usage = ExitCodes.Usage;
    /// <summary>An export that is not faithful to the model it came from.</summary>
    public const int VerificationFailed = ExitCodes.VerificationFailed;
    /// <summary>A setting this build cannot run (e.g. the nccl backend without CUDA or NCCL).</summary>
    public const int Unsupported = ExitCodes.Unsupported;
}

/// <summary>
/// What every kind that runs one Job at a time (ReidExperiment, ExportJob) decides the same way: the plan of a
/// resource being deleted, InvalidSpec, the status a new run starts from, and the trainer's last words.
/// </summary>
public static class RunLifecycle
{
    /// <summary>How long a succeeded Job waits for its rank-0 pod to show up before giving up on the result.</summary>
    public static readonly TimeSpan ResultGrace = TimeSpan.FromMinutes(5);

    /// <summary>How soon to look again for the rank-0 pod of a succeeded Job within <see cref="ResultGrace"/>.</summary>
    public static readonly TimeSpan ResultRetry = TimeSpan.FromSeconds(15);

    /// <summary>Being deleted: the garbage collector removes the children, the status stays as it is.</summary>
    public static Plan<TStatus> Deleting<TStatus>(TStatus previous) where TStatus : ResourceStatus =>
        new([], StatusUpdates.Copy(previous), [], null);

    /// <summary>
    /// InvalidSpec naming the fields (a spec that cannot be read or planned at all); nothing is created, and a
    /// run of an earlier, valid generation keeps going and keeps its phase.
    /// </summary>
    public static Plan<TStatus> Invalid<TStatus>(ICustomResource<TStatus> resource, IReadOnlyList<FieldError> errors, DateTimeOffset now)
        where TStatus : ResourceStatus, IRunStatus, new()
    {
        var previous = resource.Status ?? new TStatus();
        var status = StatusUpdates.Copy(previous);
        var ev = StatusUpdates.MarkInvalid(status, previous.Conditions, errors, resource.Metadata.Generation ?? 0, now);
        if (previous.JobName is null) status.Phase = Phases.Failed;
        return new Plan<TStatus>([], status, ev is null ? [] : [ev], null);
    }

    /// <summary>A new run starts clean: no phase, times, results or conditions of the run it replaces.</summary>
    public static TStatus ForNewRun<TStatus>(TStatus previous) where TStatus : ResourceStatus, new() => new()
    {
        Conditions = previous.Conditions?.Where(c => c.Type == ConditionTypes.InvalidSpec).ToList(),
    };

    /// <summary>"what the trainer said (what the Job controller said)", or the Job's message alone.</summary>
    internal static string TrainerSaid(JobState state) =>
        state.LastFailureMessage is { Length: > 0 } said
            ? $"{RunResult.Truncate(said.Trim(), 600)} ({state.FailureMessage ?? "the Job failed"})"
            : state.FailureMessage ?? "the Job failed";
}

/// <summary>
/// One look at a resource that runs one Job at a time: the status being built for the run named
/// <see cref="RunName"/> (copied when it is the same run, reset when it is a new one), the actions and events
/// planned so far, and the steps after the Job has finished.
/// </summary>
internal sealed class RunLook<TStatus> where TStatus : ResourceStatus, IRunStatus, new()
{
    public RunLook(ICustomResource<TStatus> resource, string runName, DateTimeOffset now)
    {
        Previous = resource.Status ?? new TStatus();
        RunName = runName;
        Now = now;
        Generation = resource.Metadata.Generation ?? 0;
        SameRun = Previous.JobName == runName;
        Status = SameRun ? StatusUpdates.Copy(Previous) : RunLifecycle.ForNewRun(Previous);
        Status.JobName = runName;
        Status.ObservedGeneration = Generation;
    }

    public TStatus Previous { get; }
    public TStatus Status { get; }
    public string RunName { get; }
    public DateTimeOffset Now { get; }
    public long Generation { get; }
    /// <summary>The status is of this run already (not the first look after a spec change).</summary>
    public bool SameRun { get; }
    public List<ChildAction> Actions { get; } = [];
    public List<PlannedEvent> Events { get; } = [];

    public void SetCondition(string type, bool value, string reason, string message) =>
        Status.Conditions = Conditions.Set(Status.Conditions, new Condition
        {
            Type = type, Status = value ? "True" : "False", Reason = reason, Message = message, ObservedGeneration = Generation,
        }, Now);

    /// <summary>
    /// The Job finished: Running False/Finished, Restarting cleared; on success <paramref name="readResult"/>
    /// takes the rank-0 termination message and returns null, or why there is no result (then Succeeded is
    /// <c>ResultMissing</c>, looked at again while the rank-0 pod may still show up); on failure Failed with
    /// <paramref name="failure"/>'s reason and message. Then <see cref="Expire"/>.
    /// </summary>
    public TimeSpan? Finished(JobState state, Func<string?, string?> readResult, Func<JobState, (string Reason, string Message)> failure,
        long? ttlSecondsAfterFinished, Action removeChildren, string removed)
    {
        Status.CompletionTime ??= state.CompletionTime ?? Now;
        SetCondition(ConditionTypes.Running, false, "Finished", "the Job finished");
        if (Conditions.Find(Status.Conditions, ConditionTypes.Restarting) is { Status: "True" })
            SetCondition(ConditionTypes.Restarting, false, "Finished", "the Job finished");
        TimeSpan? requeue = null;
        if (state.Succeeded)
        {
            Status.Phase = Phases.Succeeded;
            if (readResult(state.RankZeroMessage) is { } error)
            {
                SetCondition(ConditionTypes.Succeeded, true, "ResultMissing", $"the Job completed but {error}");
                if (!state.RankZeroPodSeen && Now - Status.CompletionTime < RunLifecycle.ResultGrace) requeue = RunLifecycle.ResultRetry;
            }
        }
        else
        {
            var (reason, message) = failure(state);
            Fail(reason, message);
        }
        return Expire(ttlSecondsAfterFinished, removeChildren, removed) ?? requeue;
    }

    public void Fail(string reason, string message)
    {
        Status.Phase = Phases.Failed;
        SetCondition(ConditionTypes.Failed, true, reason, message);
    }

    /// <summary>runPolicy.ttlSecondsAfterFinished: the children go, the status stays; until then, when to look again.</summary>
    public TimeSpan? Expire(long? ttlSeconds, Action removeChildren, string removed)
    {
        if (ttlSeconds is not { } ttl || Status.CompletionTime is not { } done) return null;
        var expiry = done + TimeSpan.FromSeconds(ttl);
        if (Now < expiry) return expiry - Now;
        removeChildren();
        Events.Add(new(PlannedEvent.Normal, "ChildrenRemoved", $"ttlSecondsAfterFinished ({ttl}) passed: {removed} removed; status kept"));
        return null;
    }

    /// <summary>The plan, with the events for what changed since the previous status (compared only within one run).</summary>
    public Plan<TStatus> ToPlan(TimeSpan? requeue, bool transitions = true)
    {
        if (transitions) Events.AddRange(StatusUpdates.Transitions(Previous, Status, SameRun));
        return new Plan<TStatus>(Actions, Status, Events, requeue);
    }
}
