using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using FastReid.Pipeline.Progress;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Controllers;

/// <summary>
/// The one controller shape, for every kind: re-read the resource, observe its children, read what it
/// references, plan (or reject a spec that could not be read), apply the actions, write the status only when
/// it changed, record the planned events, and requeue when the plan asks. A child the API server refuses as
/// invalid fails the resource (condition Failed, reason ChildRejected, with the server's message) until its
/// spec changes; other API errors throw, and the loop retries with backoff.
/// </summary>
public sealed class EntityController<TResource, TStatus>(
    ControllerDefinition<TResource, TStatus> definition,
    IClusterApi cluster,
    ObserveChildren observe,
    PlannerOptions options,
    TimeProvider time,
    ILogger logger,
    FetchMetricsPage? fetchPage = null)
    where TResource : class, ICustomResource<TStatus>
    where TStatus : ResourceStatus
{
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken ct)
    {
        var snapshot = await cluster.GetAsync<TResource>(key.Namespace, key.Name, ct).ConfigureAwait(false);
        if (snapshot is null) return ReconcileResult.Done; // deleted: owner references take the children with it
        var resource = snapshot.Resource;
        var now = time.GetUtcNow();
        Plan<TStatus> plan;
        if (snapshot.ReadError is { } readError)
        {
            plan = definition.Reject(resource, [readError], now);
        }
        else
        {
            var observed = observe(definition.Kind, resource.Metadata, now);
            if (fetchPage is not null && definition.ProgressTarget?.Invoke(resource, observed, options) is { } target)
                observed = observed.With<MetricsScrape>([await ScrapeAsync(fetchPage, target, ct).ConfigureAwait(false)]);
            plan = definition.Plan(resource, observed, await ContextAsync(resource, key, ct).ConfigureAwait(false));
        }

        // A child the API server rejected for this generation is not sent again: only a spec change can fix it.
        var generation = resource.Metadata.Generation ?? 0;
        var rejected = StatusUpdates.RejectedChild(resource.Status, generation)
            ?? await PlanApplier.ApplyAsync(cluster, key, plan.Actions, logger, ct).ConfigureAwait(false);
        var events = plan.Events;
        var requeue = plan.RequeueAfter;
        if (rejected is not null)
        {
            // The plan's events and requeue are about children that were not made.
            var ev = StatusUpdates.MarkRejected(plan.Status, resource.Status?.Conditions, rejected, generation, now);
            events = ev is null ? [] : [ev];
            requeue = null;
        }
        if (StatusUpdates.Differs(resource.Status, plan.Status))
            await cluster.ReplaceStatusAsync(snapshot, plan.Status, ct).ConfigureAwait(false);
        await PlanApplier.RecordAsync(cluster, definition.Kind, resource.Metadata, events, logger, ct).ConfigureAwait(false);
        return requeue is { } after ? ReconcileResult.After(after) : ReconcileResult.Done;
    }

    /// <summary>A trainer's page is read in at most this long: a slow trainer must not hold a worker.</summary>
    public static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Reads the page; any failure (refused, timed out, not 200) becomes the scrape's error, never the reconcile's.</summary>
    private async Task<MetricsScrape> ScrapeAsync(FetchMetricsPage fetch, Uri target, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ScrapeTimeout);
        try
        {
            var page = await fetch(target, timeout.Token).ConfigureAwait(false);
            return new MetricsScrape(target, page, null, time.GetUtcNow());
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or OperationCanceledException or IOException)
        {
            var why = e is OperationCanceledException ? $"no answer in {ScrapeTimeout.TotalSeconds:0} s" : e.Message;
            logger.LogDebug("progress not read from {Target}: {Error}", target, why);
            return new MetricsScrape(target, null, why, time.GetUtcNow());
        }
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
