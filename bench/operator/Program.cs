using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Bench.Operator;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using k8s;
using k8s.Models;

// Operator at scale (issue 16): N ReidExperiments in one `kubectl apply -f` against the published emulator, with
// the published operator running; then the same children created by a plain client, in the same emulator.
//   FastReid.Bench.Operator --emulator BIN --operator BIN --repo DIR --out FILE [--count N] [--workers N]
var options = BenchOptions.Parse(args);
var work = Directory.CreateTempSubdirectory("fastreid-bench-operator-");
var load = new List<string> { File.ReadAllText("/proc/loadavg").Trim() };
try
{
    var kubeconfig = Path.Combine(work.FullName, "kubeconfig");
    using var emulator = await Child.StartAsync(options.Emulator, ["--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig], "kube-emulator ready", TimeSpan.FromSeconds(60));
    using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
    Kubectl.Run(kubeconfig, "apply", "-f", Path.Combine(options.Repo, "crds"));
    const string OperatorNs = "bench-op", DirectNs = "bench-direct", BacklogNs = "bench-backlog";
    foreach (var ns in new[] { OperatorNs, DirectNs, BacklogNs })
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });

    // Client-side times, one monotonic clock: when this watch saw each experiment and each Job first.
    using var stopWatches = new CancellationTokenSource();
    var seen = new Seen();
    var watches = await seen.StartAsync(client, OperatorNs, stopWatches.Token);

    List<string> OperatorArgs(string ns) =>
        ["run", "--kubeconfig", kubeconfig, "--namespace", ns, "--leader-elect=false", "--metrics-port", "0", "--workers", options.Workers.ToString(CultureInfo.InvariantCulture)];
    using var op = await Child.StartAsync(options.Operator, OperatorArgs(OperatorNs), "caches synced", TimeSpan.FromSeconds(60));
    var operatorIdle = Proc.Read(op.Pid);

    var manifest = Path.Combine(work.FullName, "experiments.yaml");
    // kubectl's pace bounds the operator's rate in the burst: a backlog of the same experiments, applied while
    // no operator runs, then one operator started on it, gives the operator's own rate.
    File.WriteAllText(manifest, Manifests.Experiments(File.ReadAllText(Path.Combine(options.Repo, "examples", "synthetic-cpu.yaml")), options.Count));
    Kubectl.Run(kubeconfig, "apply", "--namespace", BacklogNs, "-f", manifest);
    File.WriteAllText(manifest, Manifests.Experiments(File.ReadAllText(Path.Combine(options.Repo, "examples", "synthetic-cpu.yaml")), options.Count));
    var emulatorBefore = Proc.Read(emulator.Pid);
    var operatorBefore = Proc.Read(op.Pid);
    var applyStart = Stopwatch.GetTimestamp();
    var applied = Task.Run(() => Kubectl.Run(kubeconfig, "apply", "--namespace", OperatorNs, "-f", manifest));
    var allJobs = seen.WaitForJobsAsync(options.Count, TimeSpan.FromSeconds(options.TimeoutSeconds));
    await applied;
    var applySeconds = Stopwatch.GetElapsedTime(applyStart).TotalSeconds;
    var complete = await allJobs;
    var emulatorAfter = Proc.Read(emulator.Pid);
    var operatorAfter = Proc.Read(op.Pid);
    load.Add(File.ReadAllText("/proc/loadavg").Trim());
    op.Stop();

    var backlogSeen = new Seen();
    using var stopBacklog = new CancellationTokenSource();
    var backlogWatches = await backlogSeen.StartAsync(client, BacklogNs, stopBacklog.Token);
    var backlogStart = Stopwatch.GetTimestamp();
    using var backlogOperator = await Child.StartAsync(options.Operator, OperatorArgs(BacklogNs), "caches synced", TimeSpan.FromSeconds(60));
    var backlogSynced = Stopwatch.GetElapsedTime(backlogStart).TotalSeconds;
    var backlogComplete = await backlogSeen.WaitForJobsAsync(options.Count, TimeSpan.FromSeconds(options.TimeoutSeconds));
    var backlogSeconds = Stopwatch.GetElapsedTime(backlogStart).TotalSeconds - backlogSynced;
    var backlogPeak = Proc.Read(backlogOperator.Pid).PeakRssMb;
    backlogOperator.Stop();
    await stopBacklog.CancelAsync();
    await stopWatches.CancelAsync();
    foreach (var watch in watches.Concat(backlogWatches))
    {
        try { await watch; }
        catch (OperationCanceledException) { }
        catch (Exception e) { Console.Error.WriteLine($"watch ended: {e.GetType().Name}: {e.Message}"); }
    }

    var latencies = seen.Latencies();
    var (firstExperiment, lastJob) = seen.Span();
    var operatorSeconds = (lastJob - firstExperiment).TotalSeconds;

    // The same ConfigMaps, Services and Jobs (the planner's, for the experiments the operator just served), created
    // by a plain client with as many concurrent creators as the operator has workers, and with many, in another namespace.
    var experiments = await ReadExperimentsAsync(client, OperatorNs);
    var children = experiments.Select(e => ReidExperimentPlanner.Plan(e, ObservedChildren.None(DateTimeOffset.UtcNow), new PlannerOptions()).Actions
        .OfType<CreateChild>().Select(c => c.Object).ToList()).ToList();
    var concurrency = options.Workers;
    var direct = await Direct.CreateAsync(client, DirectNs, children, concurrency, "a");
    var directWide = await Direct.CreateAsync(client, DirectNs, children, 16, "b");
    load.Add(File.ReadAllText("/proc/loadavg").Trim());

    var objectsPerExperiment = children.Count == 0 ? 0 : children.Average(c => c.Count);
    var result = new JsonObject
    {
        ["experiments"] = options.Count,
        ["experiments_seen"] = seen.Experiments,
        ["jobs_seen"] = seen.Jobs,
        ["complete"] = complete,
        ["latency_definition"] = "client-side watch, one monotonic clock: first event of the Job minus first event of its ReidExperiment",
        ["latency_s"] = new JsonObject
        {
            ["p50"] = Stats.Percentile(latencies, 50), ["p95"] = Stats.Percentile(latencies, 95), ["p99"] = Stats.Percentile(latencies, 99),
            ["max"] = latencies.Count == 0 ? null : latencies.Max(),
        },
        ["goal"] = "p99 < 1 s and operator peak RSS < 150 MB",
        ["kubectl_apply_s"] = Math.Round(applySeconds, 3),
        ["operator"] = new JsonObject
        {
            ["workers"] = concurrency,
            ["idle_rss_mb"] = operatorIdle.RssMb,
            ["peak_rss_mb"] = operatorAfter.PeakRssMb,
            ["end_rss_mb"] = operatorAfter.RssMb,
            ["cpu_s"] = Math.Round(operatorAfter.CpuSeconds - operatorBefore.CpuSeconds, 2),
            ["first_experiment_to_last_job_s"] = Math.Round(operatorSeconds, 3),
            ["experiments_per_s"] = Rate(latencies.Count, operatorSeconds),
            ["backlog"] = new JsonObject
            {
                ["complete"] = backlogComplete,
                ["start_to_caches_synced_s"] = Math.Round(backlogSynced, 3),
                ["caches_synced_to_last_job_s"] = Math.Round(backlogSeconds, 3),
                ["experiments_per_s"] = Rate(backlogSeen.Jobs, backlogSeconds),
                ["peak_rss_mb"] = backlogPeak,
            },
            ["env"] = new JsonObject(Environment.GetEnvironmentVariables().Keys.Cast<string>()
                .Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
                .Select(k => KeyValuePair.Create(k, (JsonNode?)Environment.GetEnvironmentVariable(k)))),
        },
        ["emulator"] = new JsonObject
        {
            ["cpu_s_during_operator_phase"] = Math.Round(emulatorAfter.CpuSeconds - emulatorBefore.CpuSeconds, 2),
            ["peak_rss_mb"] = Proc.Read(emulator.Pid).PeakRssMb,
        },
        ["direct_client"] = new JsonObject
        {
            ["objects_per_experiment"] = objectsPerExperiment,
            ["concurrency"] = concurrency,
            ["experiments_per_s"] = Rate(options.Count, direct.Seconds),
            ["seconds"] = Math.Round(direct.Seconds, 3),
            ["concurrency_16_experiments_per_s"] = Rate(options.Count, directWide.Seconds),
        },
        ["operator_backlog_vs_direct"] = Rate(backlogSeen.Jobs, backlogSeconds) is { } opRate && Rate(options.Count, direct.Seconds) is { } directRate ? Math.Round(opRate / directRate, 2) : null,
        ["loadavg"] = new JsonArray([.. load.Select(l => (JsonNode)l)]),
        ["cores"] = Environment.ProcessorCount,
    };
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Out))!);
    File.WriteAllText(options.Out, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    emulator.Stop();
    return complete ? 0 : 1;
}
finally
{
    work.Delete(recursive: true);
}

static double? Rate(int count, double seconds) => seconds > 0 && count > 0 ? Math.Round(count / seconds, 1) : null;

static async Task<List<ReidExperiment>> ReadExperimentsAsync(Kubernetes client, string ns)
{
    var body = await client.CustomObjects.ListNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, ns, "reidexperiments");
    var list = JsonNode.Parse(JsonSerializer.Serialize(body))!.AsObject();
    return [.. list["items"]!.AsArray().Select(i => i!.Deserialize<ReidExperiment>(ApiJson.Options)!)];
}
