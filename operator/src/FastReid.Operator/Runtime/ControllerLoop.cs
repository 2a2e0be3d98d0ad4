using System.Diagnostics;
using FastReid.Operator.Hosting;
using FastReid.Operator.Kube;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Runtime;

/// <summary>
/// Runs N workers over a work queue: each takes a key (never one another worker holds), reconciles it,
/// then forgets its failures and requeues it when asked, or requeues it rate-limited when it threw.
/// </summary>
public sealed class ControllerLoop(
    string kind,
    WorkQueue<ObjectKey> queue,
    Func<ObjectKey, CancellationToken, Task<ReconcileResult>> reconcile,
    OperatorMetrics metrics,
    ILogger logger,
    int workers = 2)
{
    public Task RunAsync(CancellationToken ct) =>
        Task.WhenAll(Enumerable.Range(0, Math.Max(1, workers)).Select(_ => Task.Run(() => WorkAsync(ct), CancellationToken.None)));

    private async Task WorkAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            ObjectKey key;
            try
            {
                key = await queue.TakeAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            metrics.QueueDepth.WithLabels(kind).Set(queue.Depth);
            var watch = Stopwatch.StartNew();
            try
            {
                var result = await reconcile(key, ct).ConfigureAwait(false);
                queue.Forget(key);
                if (result.RequeueAfter is { } after)
                {
                    queue.AddAfter(key, after);
                    metrics.Reconciles.WithLabels(kind, "requeue").Inc();
                }
                else
                {
                    metrics.Reconciles.WithLabels(kind, "success").Inc();
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (ConflictException e)
            {
                // Someone wrote the object since we read it: read it again soon.
                metrics.Reconciles.WithLabels(kind, "conflict").Inc();
                logger.LogDebug("{Kind} {Key}: {Error}; retrying", kind, key, e.Message);
                queue.AddRateLimited(key);
            }
            catch (Exception e)
            {
                metrics.Reconciles.WithLabels(kind, "error").Inc();
                var delay = queue.AddRateLimited(key);
                logger.LogWarning(e, "{Kind} {Key}: reconcile failed; retrying in {Delay}", kind, key, delay);
            }
            finally
            {
                metrics.ReconcileDuration.WithLabels(kind).Observe(watch.Elapsed.TotalSeconds);
                queue.Done(key);
                metrics.QueueDepth.WithLabels(kind).Set(queue.Depth);
            }
        }
    }
}
