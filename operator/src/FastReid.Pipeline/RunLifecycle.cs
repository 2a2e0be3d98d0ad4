using System.Globalization;
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

    /// <summary>
    /// How long a Job failed by its pods waits for the failed pod to be observed before failing without the pod's
    /// message (one status, one event, in the trainer's words, rather than a vaguer one first and a second later).
    /// </summary>
    public static readonly TimeSpan FailedPodGrace = TimeSpan.FromSeconds(10);

    /// <summary>The Running reason of a run its pending deadline failed (its Failed condition has the pod's reason).</summary>
    public const string PendingDeadlineExceeded = "PendingDeadlineExceeded";

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

    /// <summary>A run's PodsReady condition when it names a stuck pod (the kubelet's or scheduler's reason), else null.</summary>
    public static Condition? Stuck(IEnumerable<Condition>? conditions) =>
        Conditions.Find(conditions, ConditionTypes.PodsReady) is { Status: "False", Reason: not (PodWait.Pending or "Finished" or "Suspended") } stuck ? stuck : null;

    /// <summary>A new run starts clean: no phase, times, results or conditions of the run it replaces.</summary>
    public static TStatus ForNewRun<TStatus>(TStatus previous) where TStatus : ResourceStatus, new() => new()
    {
        Conditions = previous.Conditions?.Where(c => c.Type == ConditionTypes.InvalidSpec).ToList(),
    };

    /// <summary>
    /// "what the trainer said (what the Job controller said)", or the Job's message alone; an init container that
    /// failed before the trainer ran is named ("init container synth (exit code 1): …").
    /// </summary>
    internal static string TrainerSaid(JobState state)
    {
        var job = state.FailureMessage ?? "the Job failed";
        var who = state.LastFailureSource is { } source ? source + ": " : "";
        return state.LastFailureMessage is { Length: > 0 } said ? $"{who}{StatusUpdates.PodTail(said)} ({job})"
            : state.LastFailureSource is { } failed ? $"{failed} failed ({job})"
            : job;
    }
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
        // Wait (status as it was) for the pod that failed the Job; its update wakes the next look.
        if (state.FailedPodPending && !(SameRun && Phases.IsFinished(Previous.Phase))
            && state.CompletionTime is { } failedAt && Now - failedAt < RunLifecycle.FailedPodGrace)
            return failedAt + RunLifecycle.FailedPodGrace - Now;
        Status.CompletionTime ??= state.CompletionTime ?? Now;
        SetCondition(ConditionTypes.Running, false, "Finished", "the Job finished");
        // A pod's stuck reason stays: it may be why the Job ended (activeDeadlineSeconds).
        if (Conditions.Find(Status.Conditions, ConditionTypes.PodsReady) is { Reason: PodsRunning or PodWait.Pending })
            SetCondition(ConditionTypes.PodsReady, false, "Finished", "the Job finished");
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

    private const string PodsRunning = "PodsRunning";

    /// <summary>
    /// PodsReady of an active, unsuspended run: True once no pod waits and one runs; False with the reason of the
    /// first stuck pod (the kubelet's or the scheduler's, the pod named in the message), and a Warning event when
    /// that reason changes, or PodsPending while pods wait for nothing worse than being set up. A pod stuck for
    /// <paramref name="deadline"/> since it was created fails the run with its reason (<see cref="FailedPending"/>
    /// then removes the Job). Returns when to look again: when the oldest stuck pod reaches the deadline.
    /// </summary>
    public TimeSpan? WatchPods(JobState state, int pods, TimeSpan? deadline)
    {
        var count = string.Create(CultureInfo.InvariantCulture, $"{state.RunningPods} of {pods} pod(s) running");
        var stuck = state.Waiting.Where(w => w.Blocking).ToList();
        if (stuck.Count == 0)
        {
            bool ready = state.Waiting.Count == 0 && state.RunningPods > 0;
            SetCondition(ConditionTypes.PodsReady, ready, ready ? PodsRunning : PodWait.Pending, count);
            return null;
        }
        var first = stuck[0];
        var message = stuck.Count > 1
            ? string.Create(CultureInfo.InvariantCulture, $"{first.Message} (and {stuck.Count - 1} more pod(s) stuck)")
            : first.Message;
        var before = SameRun ? Conditions.Find(Previous.Conditions, ConditionTypes.PodsReady) : null;
        SetCondition(ConditionTypes.PodsReady, false, first.Reason, message);
        if (!PodWait.SameTrouble(before?.Reason, first.Reason))
            Events.Add(new(PlannedEvent.Warning, first.Reason, message));

        if (deadline is not { } limit || stuck.Where(w => w.Since is not null).MinBy(w => w.Since) is not { Since: { } since } oldest)
            return null;
        if (Now < since + limit) return since + limit - Now;
        var seconds = ((long)limit.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        Status.CompletionTime ??= Now;
        Fail(oldest.Reason, $"{oldest.Message}; not started within {seconds}s (runPolicy.pendingDeadlineSeconds): its Job is deleted");
        SetCondition(ConditionTypes.Running, false, RunLifecycle.PendingDeadlineExceeded, $"pod {oldest.Pod} did not start within {seconds}s");
        // The Job goes on the next look (woken by this status write), not on this one: were the write to fail after
        // the delete, that look would find no Job and a Pending run, and start it again.
        return null;
    }

    /// <summary>
    /// The run was failed by its pending deadline on an earlier look and its Job is still there: delete it (not
    /// suspend it: a suspended Job still counts as the run, and anything that resumed it would start the pods that
    /// could not start). Its pods go with it, so nothing stays scheduled, pulling or holding a node's resources.
    /// </summary>
    public bool FailedPending =>
        SameRun && Previous.Phase == Phases.Failed
        && Conditions.Find(Previous.Conditions, ConditionTypes.Running) is { Reason: RunLifecycle.PendingDeadlineExceeded };

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
