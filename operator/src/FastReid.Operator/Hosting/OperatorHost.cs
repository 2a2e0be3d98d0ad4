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
/// Wires the operator: informers for experiments and their children, a work queue fed by their changes,
/// the ReidExperiment controller behind a Lease (so one replica reconciles), and /metrics, /healthz, /readyz.
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
        var jobs = new Informer<V1Job>(sources.Jobs(), loggers.CreateLogger("informer.Job"), Restarted);
        var services = new Informer<V1Service>(sources.Services(), loggers.CreateLogger("informer.Service"), Restarted);
        var configMaps = new Informer<V1ConfigMap>(sources.ConfigMaps(), loggers.CreateLogger("informer.ConfigMap"), Restarted);
        var pods = new Informer<V1Pod>(sources.Pods(), loggers.CreateLogger("informer.Pod"), Restarted);
        var synced = new[] { experiments.Synced, jobs.Synced, services.Synced, configMaps.Synced, pods.Synced };

        using var queue = new WorkQueue<ObjectKey>();
        void Enqueue(ObjectKey? key) { if (key is { } k) queue.Add(k); }
        experiments.Changed += (old, now) =>
        {
            Enqueue(ChildIndex.KeyOf((now ?? old)!));
            Metrics.SetPhases(ReidExperimentController.Kind, experiments.Snapshot().Select(ChildIndex.PhaseOf));
        };
        jobs.Changed += (old, now) => Enqueue(ChildIndex.OwnerOf((now ?? old)?.Metadata));
        services.Changed += (old, now) => Enqueue(ChildIndex.OwnerOf((now ?? old)?.Metadata));
        configMaps.Changed += (old, now) => Enqueue(ChildIndex.OwnerOf((now ?? old)?.Metadata));
        pods.Changed += (old, now) => Enqueue(ChildIndex.OwnerOf((now ?? old)?.Metadata));

        var index = new ChildIndex(jobs, services, configMaps, pods);
        var planner = new PlannerOptions { TrainerImage = options.TrainerImage, DefaultStorage = options.DefaultStorage, MasterPort = options.MasterPort };
        var controller = new ReidExperimentController(new KubernetesClusterApi(client, options.Identity), index.Observe, planner, TimeProvider.System,
            loggers.CreateLogger("controller.ReidExperiment"));
        var loop = new ControllerLoop(ReidExperimentController.Kind, queue, controller.ReconcileAsync, Metrics,
            loggers.CreateLogger("controller.ReidExperiment"), options.Workers);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var informerTasks = new[]
        {
            experiments.RunAsync(stop.Token), jobs.RunAsync(stop.Token), services.RunAsync(stop.Token),
            configMaps.RunAsync(stop.Token), pods.RunAsync(stop.Token),
        };
        var web = options.MetricsPort > 0 ? await StartWebAsync(synced, stop.Token).ConfigureAwait(false) : null;
        int exitCode = 0;
        try
        {
            await Task.WhenAll(synced).WaitAsync(stop.Token).ConfigureAwait(false);
            _logger.LogInformation("caches synced; scope {Scope}", options.Namespace ?? "all namespaces");
            exitCode = options.LeaderElection
                ? await RunAsLeaderAsync(loop, stop.Token).ConfigureAwait(false)
                : await RunLoopAsync(loop, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // shutting down
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            queue.ShutDown();
            await Task.WhenAll(informerTasks).ConfigureAwait(false);
            if (web is not null) await web.StopAsync(CancellationToken.None).ConfigureAwait(false);
            _logger.LogInformation("stopped");
        }
        return exitCode;
    }

    private static async Task<int> RunLoopAsync(ControllerLoop loop, CancellationToken ct)
    {
        await loop.RunAsync(ct).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Reconciles only while holding the Lease; losing it ends the process so a restart starts clean.</summary>
    private async Task<int> RunAsLeaderAsync(ControllerLoop loop, CancellationToken ct)
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
        var work = loop.RunAsync(loopStop.Token);
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
