using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Controllers;

/// <summary>
/// The one controller shape, for every kind: re-read the resource, observe its children, read what it
/// references, plan (or reject a spec that could not be read), apply the actions, write the status only when
/// it changed, record the planned events, and requeue when the plan asks.
/// </summary>
public sealed class EntityController<TResource, TStatus>(
    ControllerDefinition<TResource, TStatus> definition,
    IClusterApi cluster,
    ObserveChildren observe,
    PlannerOptions options,
    TimeProvider time,
    ILogger logger)
    where TResource : class, ICustomResource<TStatus>
    where TStatus : ResourceStatus
{
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken ct)
    {
        var snapshot = await cluster.GetAsync<TResource>(key.Namespace, key.Name, ct).ConfigureAwait(false);
        if (snapshot is null) return ReconcileResult.Done; // deleted: owner references take the children with it
        var resource = snapshot.Resource;
        var now = time.GetUtcNow();
        var plan = snapshot.ReadError is { } readError
            ? definition.Reject(resource, [readError], now)
            : definition.Plan(resource, observe(definition.Kind, resource.Metadata, now), await ContextAsync(resource, key, ct).ConfigureAwait(false));

        await PlanApplier.ApplyAsync(cluster, key, plan.Actions, logger, ct).ConfigureAwait(false);
        if (StatusUpdates.Differs(resource.Status, plan.Status))
            await cluster.ReplaceStatusAsync(snapshot, plan.Status, ct).ConfigureAwait(false);
        await PlanApplier.RecordAsync(cluster, definition.Kind, resource.Metadata, plan.Events, logger, ct).ConfigureAwait(false);
        return plan.RequeueAfter is { } after ? ReconcileResult.After(after) : ReconcileResult.Done;
    }

    private async Task<PlanContext> ContextAsync(TResource resource, ObjectKey key, CancellationToken ct)
    {
        var referenced = new Dictionary<ResourceRef, object>();
        foreach (var reference in definition.References(resource).Distinct())
        {
            if (await cluster.GetAsync(reference.Kind, key.Namespace, reference.Name, ct).ConfigureAwait(false) is { } raw)
                referenced[reference] = Snapshots.Read(reference.Kind.Type, raw).Resource;
        }
        return new PlanContext(options, referenced);
    }
}
