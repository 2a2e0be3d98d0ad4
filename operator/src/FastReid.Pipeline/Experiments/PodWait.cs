using k8s.Models;

namespace FastReid.Pipeline.Experiments;

/// <summary>
/// Why one pod of a run has not started, in the words of the scheduler (condition PodScheduled False) or the
/// kubelet (a container's, or init container's, <c>state.waiting</c>). <see cref="Blocking"/> reasons do not pass
/// by themselves (a missing Secret or key: CreateContainerConfigError; ImagePullBackOff; Unschedulable); the
/// kubelet's transient ones (ContainerCreating, PodInitializing) and a pod nobody has looked at yet are not.
/// <see cref="Since"/> is the pod's creation: the pending deadline counts from it.
/// </summary>
internal sealed record PodWait(string Pod, string Reason, string Message, bool Blocking, DateTimeOffset? Since)
{
    /// <summary>The reason of a pod that waits without a blocking reason.</summary>
    public const string Pending = "PodsPending";

    /// <summary>What the kubelet says on the way to running a container; every other waiting reason is an error.</summary>
    private static readonly HashSet<string> Transient = new(StringComparer.Ordinal) { "ContainerCreating", "PodInitializing" };


    /// <summary>The wait of a pod that is neither running nor finished nor being deleted; null for any other pod.</summary>
    public static PodWait? Of(V1Pod pod, DateTimeOffset? created)
    {
        if (pod.Metadata?.DeletionTimestamp is not null || pod.Status?.Phase is not (null or "Pending")) return null;
        var name = pod.Metadata?.Name ?? "";
        var status = pod.Status;
        if (status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled") is { Status: "False" } scheduled)
        {
            // Unschedulable: no node fits. SchedulingGated is not blocking: a gate (a queue such as Kueue) holds
            // the pod on purpose and lets it go when its turn comes.
            var reason = scheduled.Reason ?? "Unschedulable";
            return new PodWait(name, reason, $"pod {name}: {reason}{Said(scheduled.Message)}", Blocking: reason == "Unschedulable", created);
        }
        // Init containers run first and in order: the first one stuck is why the rest wait (PodInitializing).
        var containers = (status?.InitContainerStatuses ?? []).Select(c => (Status: c, What: "init container"))
            .Concat((status?.ContainerStatuses ?? []).Select(c => (Status: c, What: "container")));
        foreach (var (container, what) in containers)
        {
            if (container.State?.Waiting is { Reason: { Length: > 0 } reason } waiting && !Transient.Contains(reason))
                return new PodWait(name, reason, $"pod {name}, {what} {container.Name}: {reason}{Said(waiting.Message)}", Blocking: true, created);
        }
        return new PodWait(name, Pending, $"pod {name} has not started yet", Blocking: false, created);
    }

    /// <summary>
    /// Whether two reasons are one state for the events: the kubelet alternates ErrImagePull (with the registry's
    /// answer) and ImagePullBackOff (while it waits to try again) for as long as an image does not pull.
    /// </summary>
    public static bool SameTrouble(string? a, string? b) => a == b || (IsImagePull(a) && IsImagePull(b));

    private static bool IsImagePull(string? reason) => reason is "ErrImagePull" or "ImagePullBackOff";

    private static string Said(string? message) => string.IsNullOrWhiteSpace(message) ? "" : ": " + message.Trim();
}
