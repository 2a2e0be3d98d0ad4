using System.Globalization;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Progress;
using k8s.Models;

namespace FastReid.Cli.Pipeline;

/// <summary>
/// <c>fastreid pipeline run</c>: the operator's loop (observe → plan → apply → status) over a <see cref="LocalCluster"/>,
/// with <see cref="LocalJobs"/> as the Job controller and kubelet. Each turn looks at every resource until nothing
/// changes (a DistillJob's student, a sweep's trials and each experiment's Job appear in the same turn), starts the
/// pods of runnable Jobs, then waits for a pod to end, a planner's requeue, or Ctrl-C. It ends when every resource of
/// the manifests has finished (exit 0 when all succeeded), or when nothing runs and nothing can change (exit 1,
/// naming what each unfinished resource waits for). Each phase change and each event a planner records is a line.
/// </summary>
internal sealed class PipelineRunner(LocalCluster cluster, PlannerOptions options, int parallel, TextWriter output)
{
    /// <summary>How often a turn comes without a pod ending, at most (a planner's requeue may ask sooner).</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(2);
    private const int MaxPasses = 50;

    private readonly LocalJobs _jobs = new(cluster, parallel, output);

    public async Task<int> RunAsync(IReadOnlyList<ManifestResource> manifests, CancellationToken stop, Func<int> stoppedCode)
    {
        await _jobs.RecoverAsync();
        var now = DateTimeOffset.UtcNow;
        var wanted = manifests.Select(m => Apply(m.Resource, now)).ToList();
        output.WriteLine($"pipeline in {cluster.Dir}: {wanted.Count} resource(s), {parallel} Job(s) at once");
        var stopped = Task.Delay(Timeout.Infinite, stop).ContinueWith(_ => { }, TaskScheduler.Default);

        while (true)
        {
            bool reaped = await _jobs.ReapAsync();
            now = DateTimeOffset.UtcNow;
            var (changed, requeue) = await ReconcileAsync(now);
            await _jobs.StopOrphansAsync();
            await _jobs.SyncAsync(now);
            var current = wanted.Select(w => Current(w)).ToList();
            if (current.All(r => r is null || LocalKinds.Finished(r)) && !_jobs.Any) break;
            if (!_jobs.Any && !changed && !reaped && requeue is null)
                return Stuck(current.OfType<ICustomResource>().Where(r => !LocalKinds.Finished(r)));

            var wait = requeue is { } r2 && r2 < Tick ? r2 : Tick;
            await Task.WhenAny(_jobs.AnyEnded, stopped, Task.Delay(wait < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : wait, CancellationToken.None));
            if (stop.IsCancellationRequested)
            {
                output.WriteLine("stopping every pod; run the same command again to continue (finished work is kept, training resumes from its checkpoint)");
                await _jobs.StopAllAsync();
                return stoppedCode();
            }
        }

        output.WriteLine();
        PipelineTable.Write(cluster, output, DateTimeOffset.UtcNow);
        var failed = wanted.Select(w => Current(w)).OfType<ICustomResource>().Where(r => LocalKinds.Status(r)?.Phase != Phases.Succeeded).ToList();
        foreach (var f in failed) output.WriteLine($"{f.Kind}/{f.Metadata.Name} {LocalKinds.Status(f)?.Phase}: {Why(f)}");
        WriteReport();
        return failed.Count == 0 ? 0 : 1;
    }

    /// <summary>The pipeline's report page (<c>fastreid report STATE</c>) in STATE/report; a report that cannot be written costs a line, not the run's result.</summary>
    private void WriteReport()
    {
        try
        {
            output.WriteLine($"report: {Report.Report.Write(cluster.Dir, Path.Combine(cluster.Dir, ReportFolder))}");
        }
        catch (Exception e) when (e is FastReidException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            output.WriteLine($"report not written: {e.Message} (run `fastreid report {cluster.Dir}` to retry)");
        }
    }

    /// <summary>Where in the state folder the report goes.</summary>
    public const string ReportFolder = "report";

    private ICustomResource? Current((Type Type, string Ns, string Name) key) =>
        cluster.All<ICustomResource>().FirstOrDefault(r => r.GetType() == key.Type && PipelineManifest.Ns(r) == key.Ns && r.Metadata.Name == key.Name);

    /// <summary>
    /// <c>kubectl apply</c> of one manifest resource: created when new; a changed spec (or labels, annotations) is a new
    /// generation of the one in the state folder, which keeps its uid, creation time and status.
    /// </summary>
    private (Type, string, string) Apply(ICustomResource resource, DateTimeOffset now)
    {
        var ns = PipelineManifest.Ns(resource);
        var key = (resource.GetType(), ns, resource.Metadata.Name!);
        if (Current(key) is not { } existing)
        {
            cluster.Create(ns, resource, now);
            return key;
        }
        if (SpecJson(existing) != SpecJson(resource) || Json(existing.Metadata.Labels) != Json(resource.Metadata.Labels)
            || Json(existing.Metadata.Annotations) != Json(resource.Metadata.Annotations))
        {
            resource.Metadata.Uid = existing.Metadata.Uid;
            resource.Metadata.CreationTimestamp = existing.Metadata.CreationTimestamp;
            resource.Metadata.Generation = (existing.Metadata.Generation ?? 1) + (SpecJson(existing) != SpecJson(resource) ? 1 : 0);
            resource.Metadata.OwnerReferences = existing.Metadata.OwnerReferences;
            if (LocalKinds.Status(existing) is { } status) LocalKinds.SetStatus(resource, status);
            cluster.Replace(resource);
            output.WriteLine($"{resource.Kind}/{resource.Metadata.Name}: the manifest changed (generation {resource.Metadata.Generation})");
        }
        return key;
    }

    private static string SpecJson(ICustomResource resource) =>
        FastReid.Pipeline.Experiments.ExperimentNames.CanonicalJson(resource.GetType().GetProperty("Spec")!.GetValue(resource));

    private static string Json<T>(T value) => FastReid.Pipeline.Experiments.ExperimentNames.CanonicalJson(value);

    /// <summary>Plans every resource until a pass changes nothing; returns whether anything changed and the soonest requeue asked.</summary>
    private async Task<(bool Changed, TimeSpan? Requeue)> ReconcileAsync(DateTimeOffset now)
    {
        bool any = false;
        TimeSpan? requeue = null;
        for (int pass = 0; pass < MaxPasses; pass++)
        {
            bool changed = false;
            requeue = null;
            foreach (var resource in cluster.All<ICustomResource>().OrderBy(LocalKinds.Order).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal))
            {
                var (c, r) = await ReconcileOneAsync(resource, now);
                changed |= c;
                if (r is { } after && (requeue is null || after < requeue)) requeue = after;
            }
            any |= changed;
            if (!changed) break;
        }
        return (any, requeue);
    }

    private async Task<(bool Changed, TimeSpan? Requeue)> ReconcileOneAsync(ICustomResource resource, DateTimeOffset now)
    {
        var ns = PipelineManifest.Ns(resource);
        if (!Exists(resource)) return (false, null); // deleted earlier in this pass (with its owner)
        var observed = cluster.Observe(resource, now);
        if (resource is ReidExperiment experiment && ReidExperimentPlanner.ProgressTarget(experiment, observed, options) is not null)
            observed = observed.With<MetricsScrape>([await ScrapeAsync(ns, ExperimentNames.RunName(experiment), now)]);
        var plan = LocalKinds.Plan(resource, observed, name => cluster.Get<ReidExperiment>(ns, name), options);
        bool changed = false;
        foreach (var action in plan.Actions) changed |= ApplyAction(ns, action, now);
        var previous = LocalKinds.Status(resource);
        if (plan.StatusChanged)
        {
            LocalKinds.SetStatus(resource, plan.Status);
            cluster.Replace(resource);
            changed = true;
            if (previous?.Phase != plan.Status.Phase)
                output.WriteLine($"{Clock(now)} {resource.Kind}/{resource.Metadata.Name}: {plan.Status.Phase ?? "(no phase)"}{Headline(resource)}");
            if (resource is ReidExperiment { Status.Progress: { } progress } && progress.ObservedAt != (previous as ReidExperimentStatus)?.Progress?.ObservedAt)
                output.WriteLine($"{Clock(now)} {resource.Kind}/{resource.Metadata.Name}: {ProgressLine(progress)}");
        }
        foreach (var ev in plan.Events)
            output.WriteLine($"{Clock(now)} {resource.Kind}/{resource.Metadata.Name}: {ev.Reason}: {Redactor.Patterns.Redact(ev.Message)}");
        return (changed, plan.RequeueAfter);
    }

    /// <summary>A trainer's page is read in at most this long (as the operator reads it): a busy trainer must not hold the runner.</summary>
    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(2);
    private static readonly HttpClient Http = new() { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>
    /// Reads the run's rank-0 metrics page on this machine (the port its pod's trainer was given), as the operator reads
    /// the pod's page on the cluster; a page that cannot be read is the scrape's error, which the planner puts in the
    /// Running condition's message and nothing else.
    /// </summary>
    private async Task<MetricsScrape> ScrapeAsync(string ns, string runName, DateTimeOffset now)
    {
        if (_jobs.MetricsPage(ns, runName) is not { } page)
            return new MetricsScrape(new Uri("http://127.0.0.1/metrics"), null, "the rank-0 trainer has no metrics page yet", now);
        using var timeout = new CancellationTokenSource(ScrapeTimeout);
        try
        {
            return new MetricsScrape(page, await Http.GetStringAsync(page, timeout.Token), null, now);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return new MetricsScrape(page, null, e is OperationCanceledException ? $"no answer in {ScrapeTimeout.TotalSeconds:0} s" : e.Message, now);
        }
    }

    /// <summary>One line of a reading: "42% e5/12 · it 210/504 · loss 3.412 · 118 img/s · ETA 2m31s · eval e4 mAP 51.2% R1 70.1%".</summary>
    internal static string ProgressLine(TrainingProgress p)
    {
        var parts = new List<string> { p.Summary ?? "" };
        if (p.Iteration is { } it && p.MaxIteration is { } total) parts.Add(string.Create(CultureInfo.InvariantCulture, $"it {it}/{total}"));
        if (p.Loss is { } loss) parts.Add(string.Create(CultureInfo.InvariantCulture, $"loss {loss:0.000}"));
        if (p.ImagesPerSecond is { } speed) parts.Add(string.Create(CultureInfo.InvariantCulture, $"{speed:0} img/s"));
        if (p.EtaSeconds is { } eta) parts.Add($"ETA {Duration(eta)}");
        if (p.LastEvaluation is { Epoch: { } epoch } last)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"eval e{epoch}") +
                (last.MAP is { } map ? string.Create(CultureInfo.InvariantCulture, $" mAP {100 * map:0.0}%") : "") +
                (last.Rank1 is { } r1 ? string.Create(CultureInfo.InvariantCulture, $" R1 {100 * r1:0.0}%") : ""));
        return string.Join(" · ", parts.Where(x => x.Length > 0));
    }

    private static string Duration(long seconds) =>
        seconds >= 3600 ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600}h{seconds % 3600 / 60:00}m")
        : seconds >= 60 ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}m{seconds % 60:00}s")
        : string.Create(CultureInfo.InvariantCulture, $"{seconds}s");

    private bool Exists(ICustomResource resource) =>
        cluster.All<ICustomResource>().Any(r => ReferenceEquals(r, resource));

    private bool ApplyAction(string ns, ChildAction action, DateTimeOffset now)
    {
        switch (action)
        {
            case CreateChild create:
                return cluster.Create(ns, create.Object, now);
            case UpdateChild update:
                return cluster.Replace(update.Object);
            case DeleteChild delete:
                bool existed = cluster.All<object>().Any(o => ChildObjects.Kind(o) == delete.Kind && ChildObjects.Name(o) == delete.Name && LocalCluster.Namespace(o) == ns);
                cluster.Delete(delete.Kind, ns, delete.Name);
                return existed;
            case SetJobSuspend suspend:
                if (cluster.Get<V1Job>(ns, suspend.Name) is not { } job || (job.Spec.Suspend ?? false) == suspend.Suspend) return false;
                job.Spec.Suspend = suspend.Suspend;
                cluster.Replace(job);
                return true;
            default:
                throw new ArgumentException($"no way to apply {action}", nameof(action));
        }
    }

    /// <summary>Nothing runs and nothing can change: each unfinished resource and what its conditions say it waits for.</summary>
    private int Stuck(IEnumerable<ICustomResource> waiting)
    {
        output.WriteLine();
        PipelineTable.Write(cluster, output, DateTimeOffset.UtcNow);
        foreach (var r in waiting)
            output.WriteLine($"{r.Kind}/{r.Metadata.Name} cannot go on: {Why(r)}");
        return 1;
    }

    /// <summary>The message of the condition that explains the resource's state best: Failed, InvalidSpec, then any False one.</summary>
    private static string Why(ICustomResource resource)
    {
        var conditions = LocalKinds.Status(resource)?.Conditions ?? [];
        var why = conditions.FirstOrDefault(c => c.Type == ConditionTypes.Failed && c.Status == "True")
            ?? conditions.FirstOrDefault(c => c.Type == ConditionTypes.InvalidSpec && c.Status == "True")
            ?? conditions.LastOrDefault(c => c.Status == "False" && c.Type != ConditionTypes.InvalidSpec);
        return why is null ? "no condition says why" : $"{why.Type} {why.Reason}: {why.Message}";
    }

    private static string Headline(ICustomResource resource) =>
        PipelineTable.Headline(resource) is { Length: > 0 } text ? $" ({text})" : "";

    private static string Clock(DateTimeOffset now) => now.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);
}
