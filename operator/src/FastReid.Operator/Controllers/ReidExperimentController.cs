using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;

namespace FastReid.Operator.Controllers;

/// <summary>
/// ReidExperiments: <see cref="ReidExperimentPlanner"/> over the run's ConfigMap, headless Service, Indexed Job and
/// pods, and the rank-0 trainer's metrics page while it trains (read for status.progress).
/// </summary>
public static class ReidExperimentController
{
    public static readonly ControllerDefinition<ReidExperiment, ReidExperimentStatus> Definition = new(
        ResourceKinds.ReidExperiment,
        (experiment, observed, context) => ReidExperimentPlanner.Plan(experiment, observed, context.Options),
        ReidExperimentPlanner.Reject)
    {
        ProgressTarget = ReidExperimentPlanner.ProgressTarget,
    };
}
