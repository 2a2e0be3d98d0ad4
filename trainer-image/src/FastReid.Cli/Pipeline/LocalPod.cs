using System.Globalization;
using System.Text;
using FastReid.Cli.Launch;
using FastReid.Cli.Tune;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Cli.Pipeline;

/// <summary>How one pod's containers ended: the trainer's exit code and termination message, or the init container that failed.</summary>
internal sealed record PodEnd(int ExitCode, string? Message, string? FailedInit, DateTimeOffset FinishedAt);

/// <summary>
/// One pod of a planned Job run on this machine: the kubelet's part. Its init containers, then its trainer
/// container, each a <see cref="TrialProcess"/> (own process group, logs in <c>STATE/pods/POD/CONTAINER/</c>, stdin a
/// pipe only the runner holds, so a <c>fastreid</c> child exits when the runner dies, SIGKILL included). The container's
/// command must be the trainer command, which is this binary. Each volume the pod mounts is a folder (a ConfigMap's
/// keys are its files; an emptyDir is shared by the Job's pods, so a Synthetic dataset is written once per attempt),
/// args and env values under a mount point there, the termination-message path is a file of the pod's folder, env is
/// resolved as the kubelet resolves it (the downward API gives the completion index; a Secret key is read from this
/// process's variable of the same name: credentials come from the environment here), and the rendezvous is
/// 127.0.0.1 on a port free here. A failed container that wrote no termination message reports its log's tail
/// (FallbackToLogsOnError).
/// </summary>
internal sealed class LocalPod
{
    /// <summary>Paths this machine has too, used as they are.</summary>
    private static readonly string[] HostPaths = ["/tmp", "/dev/shm"];
    private const int LogTailLines = 80, LogTailBytes = 2048, MaxMessageBytes = 4096;
    public const string PidAnnotation = "fastreid.io/local-pid";
    public const string StartAnnotation = "fastreid.io/local-start";

    private readonly V1Job _job;
    private readonly string? _index;
    private readonly string _folder;
    private readonly Dictionary<string, string> _mounts = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, string> _overrides;
    private readonly Action<TrialProcess> _started;
    private TrialProcess? _process;
    private bool _stopping;

    public LocalPod(V1Job job, string podName, string? index, string stateDir, V1ConfigMap[] configMaps, IReadOnlyDictionary<string, string> overrides, Action<TrialProcess> started)
    {
        _job = job;
        _index = index;
        _overrides = overrides;
        _started = started;
        Name = podName;
        _folder = Directory.CreateDirectory(Path.Combine(stateDir, "pods", podName)).FullName;
        var spec = job.Spec.Template.Spec;
        var volumes = (spec.Volumes ?? []).ToDictionary(v => v.Name);
        foreach (var mount in (spec.InitContainers ?? []).Concat(spec.Containers).SelectMany(c => c.VolumeMounts ?? []))
        {
            if (HostPaths.Contains(mount.MountPath) || _mounts.ContainsKey(mount.MountPath)) continue;
            var volume = volumes[mount.Name];
            if (volume.PersistentVolumeClaim is { } claim)
                throw new FastReidException($"Job {job.Metadata.Name} mounts PersistentVolumeClaim {claim.ClaimName}, which only a cluster has");
            var folder = volume.ConfigMap is not null
                ? Directory.CreateDirectory(Path.Combine(_folder, "volumes", mount.Name)).FullName
                : Directory.CreateDirectory(Path.Combine(stateDir, "jobs", job.Metadata.Name, "volumes", mount.Name)).FullName;
            if (volume.ConfigMap is { } map)
            {
                var data = configMaps.FirstOrDefault(m => m.Metadata.Name == map.Name)?.Data
                    ?? throw new FastReidException($"Job {job.Metadata.Name} mounts ConfigMap {map.Name}, which does not exist");
                foreach (var (key, value) in data) File.WriteAllText(Path.Combine(folder, key), value);
            }
            _mounts[mount.MountPath] = folder;
        }
    }

    public string Name { get; }

    public required string JobName { get; init; }

    public required string Namespace { get; init; }

    public string Folder => _folder;

    /// <summary>The pod's completion index (null for a Job that is not Indexed): rank 0 is index 0 or the only pod.</summary>
    public string? Index => _index;

    /// <summary>The port of the running trainer's metrics page on 127.0.0.1 (null before it starts, or without one).</summary>
    public int? MetricsPort { get; private set; }

    /// <summary>The file standing for the trainer's termination-message path.</summary>
    private string TerminationFile => Path.Combine(_folder, "termination-log");

    /// <summary>Runs the init containers in order, then the trainer; returns how the pod ended (null when stopped).</summary>
    public async Task<PodEnd?> RunAsync()
    {
        File.Delete(TerminationFile);
        var spec = _job.Spec.Template.Spec;
        foreach (var init in spec.InitContainers ?? [])
        {
            var code = await RunContainerAsync(init);
            if (_stopping) return null;
            if (code != 0) return new PodEnd(code, LogTail(init.Name), init.Name, DateTimeOffset.UtcNow);
        }
        var trainer = spec.Containers.Single(c => c.Name == TrainerPod.Container);
        // Trainer progress: the runner reads rank 0's page at MetricsPort as the operator reads it (PipelineRunner).
        var exit = await RunContainerAsync(trainer);
        if (_stopping) return null;
        var written = File.Exists(TerminationFile) ? File.ReadAllText(TerminationFile) : "";
        string? message = written.Length > 0 ? Truncate(written, MaxMessageBytes)
            : exit != 0 && trainer.TerminationMessagePolicy == "FallbackToLogsOnError" ? LogTail(trainer.Name) : null;
        return new PodEnd(exit, message, null, DateTimeOffset.UtcNow);
    }

    /// <summary>Stops the running container (SIGTERM to its group, SIGKILL after the grace); the pod then ends without a result.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        if (_process is { } process) await process.StopAsync(WorkerLauncher.DefaultGrace);
    }

    private async Task<int> RunContainerAsync(V1Container container)
    {
        if (container.Command is not [var command] || command != "fastreid")
            throw new FastReidException($"Job {_job.Metadata.Name}: container {container.Name} runs '{string.Join(" ", container.Command ?? [])}', not the trainer (fastreid)");
        var folder = Directory.CreateDirectory(Path.Combine(_folder, container.Name)).FullName;
        var (self, prefix) = WorkerLauncher.SelfCommand();
        var env = Env(container);
        var args = (container.Args ?? []).Select(Local).ToList();
        // Each pod of a cluster has a network of its own; here every pod shares this machine's, so the trainer's
        // metrics page (the planner's fixed port) gets a port nobody holds, and two trainings never collide on it.
        if (args.IndexOf("--metrics-port") is var at and >= 0 && at + 1 < args.Count)
        {
            MetricsPort = WorkerLauncher.FreePort();
            args[at + 1] = MetricsPort.Value.ToString(CultureInfo.InvariantCulture);
        }
        using var process = TrialProcess.Start(folder, self, [.. prefix, .. args], env);
        _process = process;
        _started(process);
        if (_stopping) await process.StopAsync(WorkerLauncher.DefaultGrace);
        await process.Exited;
        process.KillGroup(); // what it left running in the background ends with it
        _process = null;
        return process.ExitCode;
    }

    private Dictionary<string, string> Env(V1Container container)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in container.Env ?? [])
        {
            env[e.Name] = e switch
            {
                { Value: { } value } => Local(value),
                { ValueFrom.FieldRef.FieldPath: var field } when field == $"metadata.annotations['{ExperimentNames.CompletionIndexAnnotation}']" =>
                    _index ?? throw new FastReidException($"Job {_job.Metadata.Name}: env {e.Name} reads the completion index of a pod that has none"),
                { ValueFrom.SecretKeyRef: { } secret } => Environment.GetEnvironmentVariable(e.Name) is { Length: > 0 } fromEnv ? fromEnv
                    : throw new FastReidException($"Job {_job.Metadata.Name} reads {e.Name} from Secret {secret.Name} (key {secret.Key}); on this machine set the environment variable {e.Name} instead"),
                _ => throw new FastReidException($"Job {_job.Metadata.Name}: env {e.Name} is neither a value, the completion index nor a Secret key"),
            };
        }
        foreach (var (name, value) in _overrides) env[name] = value;
        // one worker per pod here: it exits when this runner is gone (its stdin pipe closes)
        if (env.GetValueOrDefault("NPROC_PER_NODE") is null or "1")
            env[WorkerEnvironment.LauncherPidVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        return env;
    }

    /// <summary>A path in the pod as a path here.</summary>
    private string Local(string path)
    {
        if (path == TrainerPod.ResultFile) return TerminationFile;
        foreach (var (mount, folder) in _mounts)
            if (path == mount || path.StartsWith(mount + "/", StringComparison.Ordinal)) return folder + path[mount.Length..];
        return path;
    }

    private string LogTail(string container)
    {
        var folder = Path.Combine(_folder, container);
        string Read(string file) => File.Exists(Path.Combine(folder, file)) ? File.ReadAllText(Path.Combine(folder, file)) : "";
        var log = Read(TrialProcess.StdoutFile) + Read(TrialProcess.StderrFile);
        var lines = log.Split('\n');
        int keep = LogTailLines + (log.EndsWith('\n') ? 1 : 0);
        return Truncate(string.Join('\n', lines[Math.Max(0, lines.Length - keep)..]), LogTailBytes, fromEnd: true);
    }

    /// <summary>The last lines of a container's stderr (for progress lines and messages).</summary>
    public string? LastError(string container)
    {
        var path = Path.Combine(_folder, container, TrialProcess.StderrFile);
        return File.Exists(path) ? File.ReadLines(path).LastOrDefault(l => l.Trim().Length > 0)?.Trim() : null;
    }

    private static string Truncate(string text, int bytes, bool fromEnd = false)
    {
        var raw = Encoding.UTF8.GetBytes(text);
        if (raw.Length <= bytes) return text;
        return fromEnd ? Encoding.UTF8.GetString(raw[^bytes..]) : Encoding.UTF8.GetString(raw[..bytes]);
    }

}
