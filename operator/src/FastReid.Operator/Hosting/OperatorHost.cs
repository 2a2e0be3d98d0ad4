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
/// Wires the operator: an informer per kind (each controller's own, the child kinds, the related kinds it
/// watches) and per child type, a work queue and loop per controller fed by changes of its resources, of
/// their children and of what it watches, every loop behind one Lease (so one replica reconciles), and
/// /metrics, /healthz, /readyz.
/// </summary>
public sealed class OperatorHost(OperatorOptions options, IKubernetes client, ILoggerFactory loggers, IReadOnlyList<IControllerDefinition>? controllers = null)
{
    /// <summary>The controllers the operator runs, one line per kind (the chart's RBAC follows them).</summary>
    public static readonly IReadOnlyList<IControllerDefinition> Controllers = [ReidExperimentController.Definition, DistillJobController.Definition, TuneSweepController.Definition, ExportJobController.Definition];

    public OperatorMetrics Metrics { get; } = new();

    private readonly ILogger _logger = loggers.CreateLogger("fastreid-operator");

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var definitions = controllers ?? Controllers;
        var sources = new KubeSources(client, options.Namespace);
        void Restarted(string kind, string reason) => Metrics.WatchRestarts.WithLabels(kind, reason).Inc();
        Informer<T> InformerOf<T>(ResourceSource<T> source) where T : class => new(source, loggers.CreateLogger("informer." + source.Kind), Restarted);

        var resources = definitions.Select(d => d.Kind)
            .Concat(KubernetesClusterApi.ChildKinds)
            .Concat(definitions.SelectMany(d => d.Watches.Select(w => w.Related)))
            .Distinct()
            .ToDictionary(k => k, k => InformerOf(sources.CustomResources(k)));
        var jobs = InformerOf(sources.Jobs());
        var services = InformerOf(sources.Services());
        var configMaps = InformerOf(sources.ConfigMaps());
        var pods = InformerOf(sources.Pods());
        var index = new ChildIndex(
        [
            ChildSource.Owned(jobs), ChildSource.Owned(services), ChildSource.Owned(configMaps), ChildSource.Labelled(pods),
            .. KubernetesClusterApi.ChildKinds.Select(k => ChildSource.Custom(k, resources[k])),
        ]);
        var informers = resources.Values.Select(i => (Synced: i.Synced, Run: (Func<CancellationToken, Task>)i.RunAsync))
            .Concat([(jobs.Synced, jobs.RunAsync), (services.Synced, services.RunAsync), (configMaps.Synced, configMaps.RunAsync), (pods.Synced, pods.RunAsync)])
            .ToList();
        var synced = informers.Select(i => i.Synced).ToArray();

        var queues = definitions.ToDictionary(d => d, _ => new WorkQueue<ObjectKey>());
        foreach (var (definition, queue) in queues)
        {
            var own = resources[definition.Kind];
            own.Changed += (old, now) =>
            {
                // A new resource or a new spec is a user's request: ahead of the follow-ups of our own writes.
                queue.Add(ChildIndex.KeyOf((now ?? old)!), priority: old is null || (now is not null && ChildIndex.GenerationOf(old) != ChildIndex.GenerationOf(now)));
                Metrics.MovePhase(definition.Kind.Kind, old is null ? null : ChildIndex.PhaseOf(old), old is not null, now is null ? null : ChildIndex.PhaseOf(now), now is not null);
            };
            // A changed child wakes its owner: put back what was deleted or edited, follow what finished.
            foreach (var source in index.Sources)
                source.Changed += meta => { if (ChildIndex.OwnerOf(meta, definition.Kind) is { } owner) queue.Add(owner); };
            foreach (var watch in definition.Watches)
                resources[watch.Related].Changed += (old, now) => { foreach (var key in watch.Map((now ?? old)!, own.Snapshot())) queue.Add(key); };
        }

        var planner = new PlannerOptions
        {
            TrainerImage = options.TrainerImage, DefaultStorage = options.DefaultStorage, MasterPort = options.MasterPort,
            PendingDeadlineSeconds = options.PendingDeadlineSeconds, TrainerMetricsPort = options.TrainerMetricsPort,
        };
        using var trainerPages = TrainerPages.Client();
        FetchMetricsPage fetchPage = (target, token) => trainerPages.GetStringAsync(target, token);
        var cluster = new KubernetesClusterApi(client, options.Identity);
        var loops = queues.Select(q =>
        {
            var logger = loggers.CreateLogger("controller." + q.Key.Kind.Kind);
            return new ControllerLoop(q.Key.Kind.Kind, q.Value, q.Key.Reconciler(cluster, index.Observe, planner, TimeProvider.System, logger, fetchPage), Metrics, logger, options.Workers);
        }).ToList();
        Task RunLoops(CancellationToken token) => Task.WhenAll(loops.Select(l => l.RunAsync(token)));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var informerTasks = informers.Select(i => i.Run(stop.Token)).ToList();
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
            foreach (var queue in queues.Values) queue.ShutDown();
            await Task.WhenAll(informerTasks).ConfigureAwait(false);
            foreach (var queue in queues.Values) queue.Dispose();
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
