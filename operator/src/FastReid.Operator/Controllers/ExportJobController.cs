using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Exports;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Controllers;

/// <summary>
/// Thin shell around <see cref="ExportJobPlanner"/>: re-read the ExportJob and its source ReidExperiment,
/// observe its Job and pod, plan, apply, write the status only when it changed, record the planned events.
/// </summary>
public sealed class ExportJobController(
    IClusterApi cluster,
    Func<ExportJob, DateTimeOffset, ObservedChildren> observe,
    PlannerOptions options,
    TimeProvider time,
    ILogger logger)
{
    public const string Kind = "ExportJob";

    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken ct)
    {
        var snapshot = await cluster.GetExportJobAsync(key.Namespace, key.Name, ct).ConfigureAwait(false);
        if (snapshot is null) return ReconcileResult.Done; // deleted: the owner reference takes the Job with it
        var job = snapshot.Job;
        ExportPlan plan;
        if (snapshot.ReadError is { } readError)
        {
            plan = ExportJobPlanner.Reject(job, [readError], time.GetUtcNow());
        }
        else
        {
            var source = job.Spec.Source.ExperimentRef is { Name: { Length: > 0 } name }
                ? (await cluster.GetExperimentAsync(key.Namespace, name, ct).ConfigureAwait(false))?.Experiment
                : null;
            plan = ExportJobPlanner.Plan(job, observe(job, time.GetUtcNow()), source, options);
        }

        await PlanApplier.ApplyAsync(cluster, key, plan.Actions, logger, ct).ConfigureAwait(false);
        if (StatusUpdates.Differs(job.Status, plan.Status))
            await cluster.ReplaceStatusAsync(snapshot, plan.Status, ct).ConfigureAwait(false);
        await PlanApplier.RecordAsync(cluster, Kind, job.Metadata, plan.Events, logger, ct).ConfigureAwait(false);
        return plan.RequeueAfter is { } after ? ReconcileResult.After(after) : ReconcileResult.Done;
    }
}
