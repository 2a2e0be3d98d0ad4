using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Controllers;

/// <summary>What every controller does with a plan: apply its child actions, then record its events.</summary>
public static class PlanApplier
{
    public static async Task ApplyAsync(IClusterApi cluster, ObjectKey key, IReadOnlyList<ChildAction> actions, ILogger logger, CancellationToken ct)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case CreateChild create:
                    if (!await cluster.CreateAsync(key.Namespace, create.Object, ct).ConfigureAwait(false))
                        logger.LogDebug("{Key}: {Action} found it already there", key, action);
                    break;
                case UpdateChild update:
                    // Gone since it was observed: its deletion wakes this resource, and that look creates it.
                    if (!await cluster.ReplaceAsync(key.Namespace, update.Object, ct).ConfigureAwait(false))
                        logger.LogDebug("{Key}: {Action} found it gone", key, action);
                    break;
                case DeleteChild delete:
                    await cluster.DeleteAsync(key.Namespace, delete, ct).ConfigureAwait(false);
                    break;
                case SetJobSuspend suspend:
                    await cluster.MergePatchAsync(key.Namespace, "batch/v1", "Job", suspend.Name,
                        new JsonObject { ["spec"] = new JsonObject { ["suspend"] = suspend.Suspend } }, ct).ConfigureAwait(false);
                    break;
                default:
                    throw new ArgumentException($"no way to apply {action}", nameof(actions));
            }
            logger.LogInformation("{Key}: {Action}", key, action);
        }
    }

    public static async Task RecordAsync(IClusterApi cluster, KindDescriptor kind, ObjectMeta involved, IReadOnlyList<PlannedEvent> events, ILogger logger, CancellationToken ct)
    {
        foreach (var ev in events)
        {
            try
            {
                await cluster.RecordEventAsync(kind, involved, ev with { Message = Redactor.Patterns.Redact(ev.Message) }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Events are best effort: a full event store must not stop reconciling.
                logger.LogWarning("{Key}: could not record event {Reason}: {Error}", $"{involved.Namespace}/{involved.Name}", ev.Reason, e.Message);
            }
        }
    }
}
