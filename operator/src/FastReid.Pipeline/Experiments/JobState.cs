using k8s.Models;

namespace FastReid.Pipeline.Experiments;

/// <summary>
/// What a run's Job and its pods say, reduced to what the status needs. The rank-0 pod is the one of
/// completion index 0, or of none (a non-indexed Job, as exports use). The last failure is the trainer's
/// termination message and exit code, or, when the trainer never ran because an init container (synthetic data)
/// failed, that container's message, with <see cref="LastFailureSource"/> naming it (the exit code stays the
/// trainer's: podFailurePolicy and the planners read only the trainer's codes). <see cref="Waiting"/> holds the
/// pods that have not started, stuck ones first, then by name. <see cref="RankZeroRunningIp"/> is the address of
/// the running rank-0 pod (whose trainer serves the metrics the progress is read from).
/// </summary>
internal sealed record JobState(
    bool Succeeded,
    bool Failed,
    int RunningPods,
    int FailedPods,
    DateTimeOffset? StartTime,
    DateTimeOffset? CompletionTime,
    string? FailureReason,
    string? FailureMessage,
    string? LastFailureMessage,
    int? LastFailureExitCode,
    bool RankZeroPodSeen,
    string? RankZeroMessage,
    string? LastFailureSource,
    bool FailedPodSeen,
    IReadOnlyList<PodWait> Waiting,
    string? RankZeroRunningIp)
{
    public bool Finished => Succeeded || Failed;

    /// <summary>
    /// The Job failed because of its pods (backoff limit, pod failure policy, failed indexes), yet no failed pod
    /// is observed: the Job's and the pods' watches are separate streams, so the pod's termination message (the
    /// trainer's words, the why of the failure) may arrive a moment after the Job's condition.
    /// </summary>
    public bool FailedPodPending => Failed && !FailedPodSeen
        && FailureReason is "BackoffLimitExceeded" or "PodFailurePolicy" or "FailedIndexes" or "MaxFailedIndexesExceeded";

    public static JobState Of(V1Job job, IReadOnlyList<V1Pod> allPods, string runName)
    {
        var status = job.Status ?? new V1JobStatus();
        var complete = FindTrue(status, "Complete");
        var failed = FindTrue(status, "Failed");
        var pods = allPods.Where(p => p.Metadata?.Labels is { } labels
                && labels.TryGetValue(ExperimentNames.RunLabel, out var r) && r == runName)
            .ToList();
        int running = Math.Max(status.Ready ?? 0, pods.Count(p => p.Status?.Phase == "Running"));
        var rankZero = pods.Where(p => CompletionIndex(p) is "0" or null).OrderBy(p => p.Status?.Phase == "Succeeded" ? 0 : 1).FirstOrDefault();
        var lastFailed = pods.Where(p => p.Status?.Phase == "Failed")
            .OrderByDescending(p => (Terminated(p) ?? FailedInit(p)?.State.Terminated)?.FinishedAt ?? DateTime.MinValue)
            .FirstOrDefault();
        var trainer = lastFailed is null ? null : Terminated(lastFailed);
        var init = lastFailed is null || trainer is not null ? null : FailedInit(lastFailed);
        var waiting = pods.Select(p => PodWait.Of(p, Utc(p.Metadata?.CreationTimestamp))).OfType<PodWait>()
            .OrderBy(w => w.Blocking ? 0 : 1).ThenBy(w => w.Pod, StringComparer.Ordinal).ToList();
        return new JobState(
            Succeeded: complete is not null,
            Failed: complete is null && failed is not null,
            RunningPods: running,
            FailedPods: status.Failed ?? 0,
            StartTime: Utc(status.StartTime),
            CompletionTime: Utc(status.CompletionTime) ?? Utc((complete ?? failed)?.LastTransitionTime),
            FailureReason: failed?.Reason,
            FailureMessage: failed?.Message,
            LastFailureMessage: trainer?.Message ?? init?.State.Terminated.Message,
            LastFailureExitCode: trainer?.ExitCode,
            RankZeroPodSeen: rankZero is not null,
            RankZeroMessage: rankZero is { Status.Phase: "Succeeded" } ? Terminated(rankZero)?.Message : null,
            LastFailureSource: init is null ? null : $"init container {init.Name} (exit code {init.State.Terminated.ExitCode})",
            FailedPodSeen: lastFailed is not null,
            Waiting: waiting,
            RankZeroRunningIp: pods.FirstOrDefault(p => CompletionIndex(p) is "0" or null && p.Status?.Phase == "Running")?.Status?.PodIP);
    }

    /// <summary>The init container that ended the pod: the first one that exited non-zero.</summary>
    private static V1ContainerStatus? FailedInit(V1Pod pod) =>
        pod.Status?.InitContainerStatuses?.FirstOrDefault(c => c.State?.Terminated is { ExitCode: not 0 });

    private static V1JobCondition? FindTrue(V1JobStatus status, string type) =>
        status.Conditions?.FirstOrDefault(c => c.Type == type && c.Status == "True");

    private static string? CompletionIndex(V1Pod pod) =>
        pod.Metadata?.Annotations is { } a && a.TryGetValue(ExperimentNames.CompletionIndexAnnotation, out var index) ? index
        : pod.Metadata?.Labels is { } l && l.TryGetValue(ExperimentNames.CompletionIndexAnnotation, out var label) ? label
        : null;

    private static V1ContainerStateTerminated? Terminated(V1Pod pod) =>
        pod.Status?.ContainerStatuses?.FirstOrDefault(c => c.Name == ExperimentNames.TrainerContainer)?.State?.Terminated;

    private static DateTimeOffset? Utc(DateTime? time) =>
        time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, t.Kind == DateTimeKind.Local ? DateTimeKind.Local : DateTimeKind.Utc)).ToUniversalTime() : null;
}
