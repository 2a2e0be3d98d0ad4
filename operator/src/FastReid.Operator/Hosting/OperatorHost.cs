using System.Text.Json.Nodes;
using FastReid.Operator.Controllers;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Hosting;

/// <summary>
/// Wires the operator: informers for experiments, exports and their children, a work queue per kind fed by
/// their changes, the ReidExperiment and ExportJob controllers behind one Lease (so one replica reconciles),
/// and /metrics, /healthz, /readyz.
/// </summary>
public sealed class OperatorHost(OperatorOptions options, IKubernetes client, ILoggerFactory loggers)
{
    public OperatorMetrics Metrics { get; } = new();

    private readonly ILogger _logger = loggers.CreateLogger("fastreid-operator");

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var sources = new KubeSources(client, options.Namespace);
        void Restarted(string kind, string reason) => Metrics.WatchRestarts.WithLabels(kind, reason).Inc();
        var experiments = new Informer<JsonObject>(sources.Experiments(), loggers.CreateLogger("informer.ReidExperiment"), Restarted);
        var exports = new Informer<JsonObject>(sources.ExportJobs(), loggers.CreateLogger("informer.ExportJob"), Restarted);
        var jobs = new Informer<V1Job>(sources.Jobs(), loggers.CreateLogger("informer.Job"), Restarted);
        var services = new Informer<V1Service>(sources.Services(), loggers.CreateLogger("informer.Service"), Restarted);
        var configMaps = new Informer<V1ConfigMap>(sources.ConfigMaps(), loggers.CreateLogger("informer.ConfigMap"), Restarted);
        var pods = new Informer<V1Pod>(sources.Pods(), loggers.CreateLogger("informer.Pod"), Restarted);
        var synced = new[] { experiments.Synced, exports.Synced, jobs.Synced, services.Synced, configMaps.Synced, pods.Synced };

        using var queue = new WorkQueue<ObjectKey>();
        using var exportQueue = new WorkQueue<ObjectKey>();
        void Enqueue(WorkQueue<ObjectKey> target, ObjectKey? key) { if (key is { } k) target.Add(k); }
        void ChildChanged(V1ObjectMeta? meta)
        {
            Enqueue(queue, ChildIndex.OwnerOf(meta, ChildIndex.ExperimentKind));
            Enqueue(exportQueue, ChildIndex.OwnerOf(meta, ChildIndex.ExportKind));
        }
        experiments.Changed += (old, now) =>
        {
            var key = ChildIndex.KeyOf((now ?? old)!);
            Enqueue(queue, key);
            // An export waits for its experiment: look again at each one that reads it.
            foreach (var export in ChildIndex.ExportsOf(key, exports.Snapshot())) exportQueue.Add(export);
            Metrics.SetPhases(ReidExperimentController.Kind, experiments.Snapshot().Select(ChildIndex.PhaseOf));
        };
        exports.Changed += (old, now) =>
        {
            Enqueue(exportQueue, ChildIndex.KeyOf((now ?? old)!));
            Metrics.SetPhases(ExportJobController.Kind, exports.Snapshot().Select(ChildIndex.PhaseOf));
        };
        jobs.Changed += (old, now) => ChildChanged((now ?? old)?.Metadata);
        services.Changed += (old, now) => ChildChanged((now ?? old)?.Metadata);
        configMaps.Changed += (old, now) => ChildChanged((now ?? old)?.Metadata);
        pods.Changed += (old, now) => ChildChanged((now ?? old)?.Metadata);

        var index = new ChildIndex(jobs, services, configMaps, pods);
        var planner = new PlannerOptions { TrainerImage = options.TrainerImage, DefaultStorage = options.DefaultStorage, MasterPort = options.MasterPort };
        var cluster = new KubernetesClusterApi(client, options.Identity);
        var controller = new ReidExperimentController(cluster, index.Observe, planner, TimeProvider.System,
            loggers.CreateLogger("controller.ReidExperiment"));
        var exportController = new ExportJobController(cluster, index.ObserveExport, planner, TimeProvider.System,
            loggers.CreateLogger("controller.ExportJob"));
        var loops = new[]
        {
            new ControllerLoop(ReidExperimentController.Kind, queue, controller.ReconcileAsync, Metrics,
                loggers.CreateLogger("controller.ReidExperiment"), options.Workers),
            new ControllerLoop(ExportJobController.Kind, exportQueue, exportController.ReconcileAsync, Metrics,
                loggers.CreateLogger("controller.ExportJob"), options.Workers),
        };
        Task RunLoops(CancellationToken token) => Task.WhenAll(loops.Select(l => l.RunAsync(token)));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var informerTasks = new[]
        {
            experiments.RunAsync(stop.Token), exports.RunAsync(stop.Token), jobs.RunAsync(stop.Token), services.RunAsync(stop.Token),
            configMaps.RunAsync(stop.Token), pods.RunAsync(stop.Token),
        };
        var web = options.MetricsPort > 0 ? await StartWebAsync(synced, stop.Token).ConfigureAwait(false) : null;
        int exitCode = 0;
        try
        {
            await Task.WhenAll(synced).WaitAsync(stop.Token).ConfigureAwait(false);
            _logger.LogInformation("caches synced; scope {Scope}", options.Namespace ?? "all namespaces");
            exitCode = options.LeaderElection
                ? await RunAsLeaderAsync(RunLoops, stop.Token).ConfigureAwait(false)
                : await RunLoopAsync(RunLoops, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // shutting down
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            queue.ShutDown();
            exportQueue.ShutDown();
            await Task.WhenAll(informerTasks).ConfigureAwait(false);
            if (web is not null) await web.StopAsync(CancellationToken.None).ConfigureAwait(false);
            _logger.LogInformation("stopped");
        }
        return exitCode;
    }

    private static async Task<int> RunLoopAsync(Func<CancellationToken, Task> loops, CancellationToken ct)
    {
        await loops(ct).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Reconciles only while holding the Lease; losing it ends the process so a restart starts clean.</summary>
    private async Task<int> RunAsLeaderAsync(Func<CancellationToken, Task> loops, CancellationToken ct)
    {
        var leaseLock = new LeaseLock(client, options.LeaderElectionNamespace, options.LeaderElectionId, options.Identity);
        using var elector = new LeaderElector(new LeaderElectionConfig(leaseLock)
        {
            LeaseDuration = TimeSpan.FromSeconds(15),
            RenewDeadline = TimeSpan.FromSeconds(10),
            RetryPeriod = TimeSpan.FromSeconds(2),
        });
        var leading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        elector.OnStartedLeading += () => leading.TrySetResult();
        elector.OnNewLeader += leader => _logger.LogInformation("leader is {Leader}", leader);
        _logger.LogInformation("waiting for Lease {Namespace}/{Name} as {Identity}", options.LeaderElectionNamespace, options.LeaderElectionId, options.Identity);
        var held = elector.RunUntilLeadershipLostAsync(ct);
        await Task.WhenAny(leading.Task, held).ConfigureAwait(false);
        if (!leading.Task.IsCompleted)
        {
            await held.ConfigureAwait(false);
            return ct.IsCancellationRequested ? 0 : 1;
        }
        Metrics.Leader.Set(1);
        using var loopStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var work = loops(loopStop.Token);
        try
        {
            await held.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        Metrics.Leader.Set(0);
        await loopStop.CancelAsync().ConfigureAwait(false);
        await work.ConfigureAwait(false);
        if (ct.IsCancellationRequested) return 0;
        _logger.LogError("lost the Lease {Namespace}/{Name}; exiting", options.LeaderElectionNamespace, options.LeaderElectionId);
        return 1;
    }

    private async Task<WebApplication> StartWebAsync(Task[] synced, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://{options.MetricsAddress}:{options.MetricsPort}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", () => synced.All(t => t.IsCompletedSuccessfully)
            ? Results.Text("ok\n")
            : Results.Text("caches not synced\n", statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await Metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });
        await app.StartAsync(ct).ConfigureAwait(false);
        _logger.LogInformation("serving /metrics, /healthz, /readyz on {Address}:{Port}", options.MetricsAddress, options.MetricsPort);
        return app;
    }
}
