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
    /// <summary>
    /// Applies the actions in order. Stops at the first child the API server rejects as invalid and returns why
    /// ("the API server rejected create Job/x: ..."); null when every action was applied. Any other failure throws.
    /// </summary>
    public static async Task<string?> ApplyAsync(IClusterApi cluster, ObjectKey key, IReadOnlyList<ChildAction> actions, ILogger logger, CancellationToken ct)
    {
        foreach (var action in actions)
        {
            try
            {
                await ApplyOneAsync(cluster, key, action, logger, ct).ConfigureAwait(false);
            }
            catch (ChildRejectedException e)
            {
                logger.LogWarning("{Key}: the API server rejected {Action}: {Error}", key, action, e.Message);
                return $"the API server rejected {action}: {FastReid.Contracts.RunResult.Truncate(e.Message, MaxMessage)}";
            }
            logger.LogInformation("{Key}: {Action}", key, action);
        }
        return null;
    }

    /// <summary>Room for a few field errors of the server's message in a condition and an event (1 KiB at most).</summary>
    private const int MaxMessage = 900;

    private static async Task ApplyOneAsync(IClusterApi cluster, ObjectKey key, ChildAction action, ILogger logger, CancellationToken ct)
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
                throw new ArgumentException($"no way to apply {action}", nameof(action));
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
