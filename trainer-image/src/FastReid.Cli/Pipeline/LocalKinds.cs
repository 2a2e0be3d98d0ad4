using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using FastReid.Pipeline.Distill;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Exports;
using FastReid.Pipeline.Tune;

namespace FastReid.Cli.Pipeline;

/// <summary>A plan of any kind, as the local runner applies it.</summary>
internal sealed record LocalPlan(IReadOnlyList<ChildAction> Actions, ResourceStatus Status, bool StatusChanged, IReadOnlyList<PlannedEvent> Events, TimeSpan? RequeueAfter);

/// <summary>A reference from one resource to a ReidExperiment it reads, and the field that names it.</summary>
internal sealed record ExperimentReference(string Field, string Name);

/// <summary>
/// The four kinds as the operator's controllers plan them (operator/src/FastReid.Operator/Controllers): the same
/// planner of each kind, given the same referenced ReidExperiments, so a manifest runs here as it runs on a cluster.
/// </summary>
internal static class LocalKinds
{
    /// <summary>The order resources are looked at in one pass: what others read first.</summary>
    public static int Order(object resource) => resource switch
    {
        ReidExperiment => 0,
        DistillJob => 1,
        TuneSweep => 2,
        _ => 3,
    };

    /// <param name="experiments">a ReidExperiment of the resource's namespace by name, null when it does not exist.</param>
    public static LocalPlan Plan(ICustomResource resource, ObservedChildren observed, Func<string, ReidExperiment?> experiments, PlannerOptions options) => resource switch
    {
        ReidExperiment e => Of(ReidExperimentPlanner.Plan(e, observed, options), e.Status),
        DistillJob d => Of(DistillJobPlanner.Plan(d, observed, experiments, options), d.Status),
        TuneSweep s => Of(TuneSweepPlanner.Plan(s, observed, experiments, options), s.Status),
        ExportJob x => Of(ExportJobPlanner.Plan(x, observed, x.Spec.Source.ExperimentRef is { Name: { Length: > 0 } name } ? experiments(name) : null, options), x.Status),
        _ => throw new ArgumentException($"{resource.Kind} is not one of the pipeline's kinds", nameof(resource)),
    };

    /// <summary>The ReidExperiments a resource names in its spec (a DistillJob's teachers, an ExportJob's source).</summary>
    public static IEnumerable<ExperimentReference> References(ICustomResource resource) => resource switch
    {
        DistillJob d => d.Spec.Teachers.Select((t, i) => (t, i)).Where(p => p.t.ExperimentRef is { Name.Length: > 0 })
            .Select(p => new ExperimentReference($"spec.teachers[{p.i}].experimentRef.name", p.t.ExperimentRef!.Name)),
        ExportJob x when x.Spec.Source.ExperimentRef is { Name: { Length: > 0 } name } => [new ExperimentReference("spec.source.experimentRef.name", name)],
        _ => [],
    };

    public static ResourceStatus? Status(ICustomResource resource) => resource switch
    {
        ReidExperiment e => e.Status,
        DistillJob d => d.Status,
        TuneSweep s => s.Status,
        ExportJob x => x.Status,
        _ => null,
    };

    public static void SetStatus(ICustomResource resource, ResourceStatus status)
    {
        switch (resource)
        {
            case ReidExperiment e: e.Status = (ReidExperimentStatus)status; break;
            case DistillJob d: d.Status = (DistillJobStatus)status; break;
            case TuneSweep s: s.Status = (TuneSweepStatus)status; break;
            case ExportJob x: x.Status = (ExportJobStatus)status; break;
        }
    }

    /// <summary>Finished for its current generation: Succeeded or Failed, as observed for the spec it has now.</summary>
    public static bool Finished(ICustomResource resource) =>
        Status(resource) is { } status && Phases.IsFinished(status.Phase)
        && (status.ObservedGeneration is null || status.ObservedGeneration == resource.Metadata.Generation);

    private static LocalPlan Of<TStatus>(Plan<TStatus> plan, TStatus? current) where TStatus : ResourceStatus =>
        new(plan.Actions, plan.Status, StatusUpdates.Differs(current, plan.Status), plan.Events, plan.RequeueAfter);
}
