using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Controllers;

/// <summary>
/// Thin shell around <see cref="ReidExperimentPlanner"/>: re-read the experiment, observe its children,
/// plan, apply the actions, write the status only when it changed, record the planned events.
/// </summary>
public sealed class ReidExperimentController(
    IClusterApi cluster,
    Func<ReidExperiment, DateTimeOffset, ObservedChildren> observe,
    PlannerOptions options,
    TimeProvider time,
    ILogger logger)
{
    public const string Kind = "ReidExperiment";

    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken ct)
    {
        var snapshot = await cluster.GetExperimentAsync(key.Namespace, key.Name, ct).ConfigureAwait(false);
        if (snapshot is null) return ReconcileResult.Done; // deleted: owner references take the children with it
        var experiment = snapshot.Experiment;
        var plan = snapshot.ReadError is { } readError
            ? ReidExperimentPlanner.Reject(experiment, [readError], time.GetUtcNow())
            : ReidExperimentPlanner.Plan(experiment, observe(experiment, time.GetUtcNow()), options);

        await PlanApplier.ApplyAsync(cluster, key, plan.Actions, logger, ct).ConfigureAwait(false);
        if (ExperimentStatus.Differs(experiment.Status, plan.Status))
            await cluster.ReplaceStatusAsync(snapshot, plan.Status, ct).ConfigureAwait(false);
        await PlanApplier.RecordAsync(cluster, Kind, experiment.Metadata, plan.Events, logger, ct).ConfigureAwait(false);
        return plan.RequeueAfter is { } after ? ReconcileResult.After(after) : ReconcileResult.Done;
    }
}
