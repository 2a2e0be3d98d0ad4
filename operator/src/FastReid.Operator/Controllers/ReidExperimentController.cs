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

        foreach (var action in plan.Actions)
        {
            switch (action)
            {
                case CreateChild create:
                    if (!await cluster.CreateAsync(key.Namespace, create.Object, ct).ConfigureAwait(false))
                        logger.LogDebug("{Key}: {Action} found it already there", key, action);
                    break;
                case DeleteChild delete:
                    await cluster.DeleteAsync(key.Namespace, delete, ct).ConfigureAwait(false);
                    break;
                case SetJobSuspend suspend:
                    await cluster.SetJobSuspendAsync(key.Namespace, suspend.Name, suspend.Suspend, ct).ConfigureAwait(false);
                    break;
            }
            logger.LogInformation("{Key}: {Action}", key, action);
        }

        if (ExperimentStatus.Differs(experiment.Status, plan.Status))
            await cluster.ReplaceStatusAsync(snapshot, plan.Status, ct).ConfigureAwait(false);

        foreach (var ev in plan.Events)
        {
            try
            {
                await cluster.RecordEventAsync(experiment, ev, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Events are best effort: a full event store must not stop reconciling.
                logger.LogWarning("{Key}: could not record event {Reason}: {Error}", key, ev.Reason, e.Message);
            }
        }
        return plan.RequeueAfter is { } after ? ReconcileResult.After(after) : ReconcileResult.Done;
    }
}
