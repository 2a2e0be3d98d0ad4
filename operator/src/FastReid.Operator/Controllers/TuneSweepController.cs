using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using FastReid.Pipeline.Tune;

namespace FastReid.Operator.Controllers;

/// <summary>
/// TuneSweeps: <see cref="TuneSweepPlanner"/> over the trial ReidExperiments it owns (a changed trial wakes it as
/// any child does), given its unfinished trials and its test run read by name (the informer may lag a create).
/// </summary>
public static class TuneSweepController
{
    public static readonly ControllerDefinition<TuneSweep, TuneSweepStatus> Definition = new(
        ResourceKinds.TuneSweep,
        (sweep, observed, context) => TuneSweepPlanner.Plan(sweep, observed, context.Referenced<ReidExperiment>, context.Options),
        TuneSweepPlanner.Reject)
    {
        References = sweep => TuneSweepPlanner.References(sweep).Select(name => new ResourceRef(ResourceKinds.ReidExperiment, name)),
    };
}
