using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Controllers;

/// <summary>A resource's children as the informer caches hold them now.</summary>
public delegate ObservedChildren ObserveChildren(KindDescriptor kind, ObjectMeta owner, DateTimeOffset now);

/// <summary>The text of a trainer's metrics page (HTTP GET); throws when it cannot be read. The one network read besides the API server.</summary>
public delegate Task<string> FetchMetricsPage(Uri target, CancellationToken ct);

/// <summary>
/// Changes of a related kind that wake resources of this kind: <see cref="Map"/> takes the changed object and
/// this kind's cached resources, and names those to look at again (an ExportJob waits for its experiment).
/// Children need none: a changed child wakes its owner.
/// </summary>
public sealed record RelatedWatch(KindDescriptor Related, Func<JsonObject, IEnumerable<JsonObject>, IEnumerable<ObjectKey>> Map);

/// <summary>What the host knows of a controller, whatever its kind: the kind, its watches, and how to make its reconcile.</summary>
public interface IControllerDefinition
{
    KindDescriptor Kind { get; }
    IReadOnlyList<RelatedWatch> Watches { get; }
    Func<ObjectKey, CancellationToken, Task<ReconcileResult>> Reconciler(IClusterApi cluster, ObserveChildren observe, PlannerOptions options, TimeProvider time, ILogger logger, FetchMetricsPage? fetchPage = null);
}

/// <summary>
/// A controller is a kind and its planner's two pure functions (KubeOps' entity controller, without a class
/// per kind): <see cref="Plan"/> for a resource that could be read, <see cref="Reject"/> for one whose spec
/// did not fit the type. <see cref="References"/> names the other resources of our kinds the planner reads
/// (handed to it in the <see cref="PlanContext"/>).
/// </summary>
public sealed record ControllerDefinition<TResource, TStatus>(
    KindDescriptor Kind,
    Func<TResource, ObservedChildren, PlanContext, Plan<TStatus>> Plan,
    Func<TResource, IReadOnlyList<FieldError>, DateTimeOffset, Plan<TStatus>> Reject) : IControllerDefinition
    where TResource : class, ICustomResource<TStatus>
    where TStatus : ResourceStatus
{
    public Func<TResource, IEnumerable<ResourceRef>> References { get; init; } = _ => [];

    public IReadOnlyList<RelatedWatch> Watches { get; init; } = [];

    /// <summary>The trainer metrics page to read before planning (the planner decides; the page is passed as a <see cref="Pipeline.Progress.MetricsScrape"/> child).</summary>
    public Func<TResource, ObservedChildren, PlannerOptions, Uri?>? ProgressTarget { get; init; }

    public EntityController<TResource, TStatus> Create(IClusterApi cluster, ObserveChildren observe, PlannerOptions options, TimeProvider time, ILogger logger, FetchMetricsPage? fetchPage = null) =>
        new(this, cluster, observe, options, time, logger, fetchPage);

    public Func<ObjectKey, CancellationToken, Task<ReconcileResult>> Reconciler(IClusterApi cluster, ObserveChildren observe, PlannerOptions options, TimeProvider time, ILogger logger, FetchMetricsPage? fetchPage = null) =>
        Create(cluster, observe, options, time, logger, fetchPage).ReconcileAsync;
}
