using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using k8s;
using k8s.Models;

namespace FastReid.Bench.Operator;

/// <summary>The bench's flags; <c>--workers</c> defaults to the operator's own default (8).</summary>
internal sealed record BenchOptions(string Emulator, string Operator, string Repo, string Out, int Count, int Workers, int TimeoutSeconds)
{
    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < args.Length; i += 2) values[args[i].TrimStart('-')] = args[i + 1];
        string Need(string name) => values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required");
        int? Int(string name) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : null;
        return new(Need("emulator"), Need("operator"), Need("repo"), Need("out"), Int("count") ?? 500, Int("workers") ?? 8, Int("timeout") ?? 300);
    }
}

/// <summary>First-seen monotonic times of experiments and Jobs in one namespace (list, then watch from its version).</summary>
internal sealed class Seen
{
    private readonly ConcurrentDictionary<string, long> _experiments = new();
    private readonly ConcurrentDictionary<string, long> _jobs = new(); // by owning experiment
    private readonly SemaphoreSlim _jobAdded = new(0);

    public async Task<Task[]> StartAsync(Kubernetes client, string ns, CancellationToken ct)
    {
        var experimentVersion = JsonNode.Parse(JsonSerializer.Serialize(
            await client.CustomObjects.ListNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, ns, "reidexperiments", cancellationToken: ct)))!["metadata"]?["resourceVersion"]?.GetValue<string>();
        var jobVersion = (await client.BatchV1.ListNamespacedJobAsync(ns, cancellationToken: ct)).Metadata.ResourceVersion;
        var experiments = Task.Run(async () =>
        {
            await foreach (var (type, item) in client.CustomObjects.WatchListNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, ns, "reidexperiments",
                resourceVersion: experimentVersion, timeoutSeconds: 3600, cancellationToken: ct).ConfigureAwait(false))
            {
                var now = Stopwatch.GetTimestamp();
                if (type != WatchEventType.Added) continue;
                var name = JsonNode.Parse(JsonSerializer.Serialize(item))?["metadata"]?["name"]?.GetValue<string>();
                if (name is not null) _experiments.TryAdd(name, now);
            }
        }, CancellationToken.None);
        var jobs = Task.Run(async () =>
        {
            await foreach (var (type, job) in client.BatchV1.WatchListNamespacedJobAsync(ns, resourceVersion: jobVersion, timeoutSeconds: 3600, cancellationToken: ct).ConfigureAwait(false))
            {
                var now = Stopwatch.GetTimestamp();
                if (type != WatchEventType.Added) continue;
                var owner = job.Metadata.OwnerReferences?.FirstOrDefault(o => o.Controller == true)?.Name;
                if (owner is not null && _jobs.TryAdd(owner, now)) _jobAdded.Release();
            }
        }, CancellationToken.None);
        return [experiments, jobs];
    }

    public int Experiments => _experiments.Count;

    public int Jobs => _jobs.Count;

    public async Task<bool> WaitForJobsAsync(int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (_jobs.Count < count)
        {
            var left = TimeSpan.FromSeconds((double)(deadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
            if (left <= TimeSpan.Zero || !await _jobAdded.WaitAsync(left).ConfigureAwait(false)) return false;
        }
        return true;
    }

    public List<double> Latencies() =>
        [.. _jobs.Where(j => _experiments.ContainsKey(j.Key)).Select(j => (double)(j.Value - _experiments[j.Key]) / Stopwatch.Frequency).Order()];

    public (TimeSpan FirstExperiment, TimeSpan LastJob) Span() =>
        (Ticks(_experiments.Values.DefaultIfEmpty().Min()), Ticks(_jobs.Values.DefaultIfEmpty().Max()));

    private static TimeSpan Ticks(long timestamp) => TimeSpan.FromSeconds((double)timestamp / Stopwatch.Frequency);
}

/// <summary>Creates each experiment's children in order (ConfigMap, Service, Job), <c>concurrency</c> experiments at a time.</summary>
internal static class Direct
{
    public static async Task<(double Seconds, int Objects)> CreateAsync(Kubernetes client, string ns, List<List<object>> children, int concurrency, string suffix)
    {
        var next = -1;
        var objects = 0;
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < children.Count;)
            {
                foreach (var child in children[i])
                {
                    await CreateOneAsync(client, ns, child, suffix).ConfigureAwait(false);
                    Interlocked.Increment(ref objects);
                }
            }
        })));
        return (Stopwatch.GetElapsedTime(start).TotalSeconds, objects);
    }

    private static Task CreateOneAsync(Kubernetes client, string ns, object child, string suffix)
    {
        // Another namespace and no owner (the experiment is not there): the garbage collector leaves them alone.
        static void Rehome(V1ObjectMeta meta, string ns, string suffix)
        {
            meta.NamespaceProperty = ns;
            meta.OwnerReferences = null;
            meta.ResourceVersion = null;
            meta.Name = meta.Name[..Math.Min(meta.Name.Length, 60)] + suffix;
        }
        switch (child)
        {
            case V1ConfigMap c: Rehome(c.Metadata, ns, suffix); return client.CoreV1.CreateNamespacedConfigMapAsync(c, ns);
            case V1Service s: Rehome(s.Metadata, ns, suffix); return client.CoreV1.CreateNamespacedServiceAsync(s, ns);
            case V1Job j:
                Rehome(j.Metadata, ns, suffix);
                // The Job's pods must find their ConfigMap under its new name.
                foreach (var volume in j.Spec.Template.Spec.Volumes ?? [])
                    if (volume.ConfigMap is { } source) source.Name += suffix;
                return client.BatchV1.CreateNamespacedJobAsync(j, ns);
            default: throw new ArgumentException($"unexpected child {child.GetType().Name}");
        }
    }
}

internal static class Manifests
{
    /// <summary>N copies of the example experiment in one multi-document file, each with its own name and output.</summary>
    public static string Experiments(string example, int count)
    {
        var text = new StringBuilder();
        for (int i = 0; i < count; i++)
            text.Append("---\n").Append(example.Replace("synthetic-r18-cpu", $"bench-{i:D4}", StringComparison.Ordinal)).Append('\n');
        return text.ToString();
    }
}

internal static class Stats
{
    public static double? Percentile(List<double> sorted, double p)
    {
        if (sorted.Count == 0) return null;
        var rank = (int)Math.Ceiling(p / 100 * sorted.Count) - 1;
        return Math.Round(sorted[Math.Clamp(rank, 0, sorted.Count - 1)], 3);
    }
}

/// <summary>/proc/PID figures: resident and peak resident set (VmRSS, VmHWM), CPU time (utime + stime).</summary>
internal sealed record Proc(double RssMb, double PeakRssMb, double CpuSeconds)
{
    public static Proc Read(int pid)
    {
        var status = File.ReadAllLines($"/proc/{pid}/status");
        double Kb(string key) => double.Parse(status.First(l => l.StartsWith(key, StringComparison.Ordinal))[(key.Length)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return new(Math.Round(Kb("VmRSS:") / 1024, 1), Math.Round(Kb("VmHWM:") / 1024, 1), ticks / 100.0);
    }
}

internal static class Kubectl
{
    public static void Run(string kubeconfig, params string[] args)
    {
        var info = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("--kubeconfig");
        info.ArgumentList.Add(kubeconfig);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"kubectl {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
    }
}

/// <summary>A child process that is ready once a line containing <c>ready</c> appears on its stdout; its output is drained.</summary>
internal sealed class Child : IDisposable
{
    private readonly Process _process;

    private Child(Process process) => _process = process;

    public int Pid => _process.Id;

    public static async Task<Child> StartAsync(string file, IEnumerable<string> args, string ready, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tail = new ConcurrentQueue<string>();
        void Line(string? line)
        {
            if (line is null) { seen.TrySetException(new InvalidOperationException($"{file} exited before '{ready}': {string.Join('\n', tail)}")); return; }
            tail.Enqueue(line);
            while (tail.Count > 20) tail.TryDequeue(out _);
            if (line.Contains(ready, StringComparison.Ordinal)) seen.TrySetResult();
        }
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) tail.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await seen.Task.WaitAsync(timeout).ConfigureAwait(false);
        return new Child(process);
    }

    public void Stop()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }
}
