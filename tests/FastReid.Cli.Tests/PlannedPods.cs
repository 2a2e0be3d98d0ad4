using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using FastReid.Core.Tests.Storage;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Cli.Tests;

/// <summary>How one pod's trainer container ended: its output and the termination message the kubelet reports for it.</summary>
internal sealed record PodRun(string? Index, int ExitCode, string Stdout, string Stderr, string? TerminationMessage);

/// <summary>
/// The pods of one Job an operator planner created, run on this machine by the real <c>fastreid</c>: the kubelet's
/// and the Job controller's part. Each volume the pod mounts is a folder under one directory (a ConfigMap's keys are
/// its files); args and env values under a mount, and the termination-message path, point there; env is resolved
/// as the kubelet resolves it (Secret keys hold s3rver's credentials, the downward API gives the completion index);
/// the termination message is read back as the kubelet reads it; and the finished Job and pod are what the planner
/// is shown next. The pods of one Job share the folders here (each would have its own emptyDir; what the init
/// containers write is the same). A PersistentVolumeClaim is the folder the test gives for it, and paths under its
/// mount in the mounted ConfigMap files (the config's OUTPUT_DIR, KD.MODEL_WEIGHTS) point there too: this machine has
/// no mount namespace per pod, so the pod's paths are rewritten where the trainer reads them, and the paths of its
/// result file back to the pod's.
/// </summary>
internal sealed class PlannedPods
{
    /// <summary>Scratch space this machine has too, used as it is (a test's own folders live under /tmp).</summary>
    private static readonly string[] HostPaths = ["/tmp", "/dev/shm"];

    /// <summary>The kubelet's tail of a failed container's log, standing in for a termination message it did not write.</summary>
    private const int LogTailLines = 80, LogTailBytes = 2048;

    private static readonly Dictionary<string, string> SecretKeys = new()
    {
        ["AWS_ACCESS_KEY_ID"] = S3rverFixture.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = S3rverFixture.SecretKey,
    };

    private readonly string _dir;
    private readonly Dictionary<string, string> _mounts = new(StringComparer.Ordinal); // mount path → local folder

    private PlannedPods(V1Job job, IReadOnlyList<V1ConfigMap> configMaps, string dir, IReadOnlyDictionary<string, string> claims)
    {
        Job = job;
        _dir = dir;
        var spec = job.Spec.Template.Spec;
        Trainer = spec.Containers.Single(c => c.Name == TrainerPod.Container);
        var volumes = (spec.Volumes ?? []).ToDictionary(v => v.Name);
        var configMounts = new List<(string Folder, V1ConfigMapVolumeSource Source)>();
        foreach (var mount in (spec.InitContainers ?? []).Concat(spec.Containers).SelectMany(c => c.VolumeMounts ?? []))
        {
            if (HostPaths.Contains(mount.MountPath) || _mounts.ContainsKey(mount.MountPath)) continue;
            var volume = volumes[mount.Name];
            var folder = volume.PersistentVolumeClaim is { } claim
                ? claims.TryGetValue(claim.ClaimName, out var claimFolder) ? Directory.CreateDirectory(claimFolder).FullName
                    : throw new InvalidOperationException($"the pod mounts PersistentVolumeClaim {claim.ClaimName}, and the test gave no folder for it")
                : Directory.CreateDirectory(Path.Combine(dir, "volumes", mount.Name)).FullName;
            if (volume.ConfigMap is { } source) configMounts.Add((folder, source));
            _mounts[mount.MountPath] = folder;
        }
        foreach (var (folder, source) in configMounts)
            foreach (var (key, value) in configMaps.Single(m => m.Metadata.Name == source.Name).Data)
                File.WriteAllText(Path.Combine(folder, key), LocalPaths(value));
    }

    /// <summary>The Job among a plan's creates, with the ConfigMaps its pods mount; <paramref name="claims"/>: the folder of each PersistentVolumeClaim.</summary>
    public static PlannedPods Of(IEnumerable<ChildAction> actions, string dir, IReadOnlyDictionary<string, string>? claims = null)
    {
        var created = actions.OfType<CreateChild>().Select(c => c.Object).ToList();
        return new PlannedPods(created.OfType<V1Job>().Single(), [.. created.OfType<V1ConfigMap>()], dir, claims ?? new Dictionary<string, string>());
    }

    public V1Job Job { get; }

    public V1Container Trainer { get; }

    /// <summary>The local file that stands for the termination-message file of the pod of <paramref name="index"/>.</summary>
    public string TerminationFile(string? index) => Path.Combine(_dir, index is null ? "termination-log" : $"termination-log-{index}");

    public void RunInitContainers()
    {
        foreach (var init in Job.Spec.Template.Spec.InitContainers ?? [])
        {
            var (code, stdout, stderr) = CliRunner.Run(Env(init, index: null), Args(init, index: null));
            Assert.True(code == 0, $"init container {init.Name}: exit {code}\n{stderr}{stdout}");
        }
    }

    /// <summary>
    /// Starts the trainer container of the pod of <paramref name="index"/>; <paramref name="overrides"/> is what differs
    /// on one machine (DNS's part: the rendezvous address, and a port free here).
    /// </summary>
    public Process Start(string? index, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var env = Env(Trainer, index);
        foreach (var (name, value) in overrides ?? new Dictionary<string, string>()) env[name] = value;
        return CliRunner.Start(env, Args(Trainer, index));
    }

    /// <summary>The Job's one pod (index 0 of an Indexed Job): its init containers, then its trainer.</summary>
    public PodRun Run()
    {
        Assert.True((Job.Spec.Completions ?? 1) == 1, $"Job {Job.Metadata.Name} has {Job.Spec.Completions} pods; start each with Start");
        var index = Job.Spec.CompletionMode == "Indexed" ? "0" : null;
        RunInitContainers();
        var (code, stdout, stderr) = CliRunner.Run(Env(Trainer, index), Args(Trainer, index));
        return Ended(index, code, stdout, stderr);
    }

    /// <summary>
    /// The trainer of the pod of <paramref name="index"/> exited: its termination message as the kubelet reports it, the
    /// file's contents, or for a failed container that wrote none (FallbackToLogsOnError) the tail of its log — here
    /// stdout then stderr, where the kubelet interleaves them by time; the trainer's last words are on stderr.
    /// </summary>
    public PodRun Ended(string? index, int exitCode, string stdout, string stderr)
    {
        var file = TerminationFile(index);
        // the trainer in the pod would have reported the pod's paths (a claim's files under its mount)
        var written = File.Exists(file) ? PodPaths(File.ReadAllText(file)) : "";
        string? message = written.Length > 0 ? written
            : exitCode != 0 && Trainer.TerminationMessagePolicy == "FallbackToLogsOnError" ? LogTail(stdout + stderr)
            : null;
        return new PodRun(index, exitCode, stdout, stderr, message);
    }

    /// <summary>
    /// The Job as the Job controller leaves it once <paramref name="run"/>'s pod ended (all its pods succeeded; or
    /// backoffLimit + 1 failures, each like this one), and that pod as the kubelet reports it.
    /// </summary>
    public V1Pod Finish(PodRun run, DateTimeOffset started, DateTimeOffset finished)
    {
        bool succeeded = run.ExitCode == 0;
        Job.Status = succeeded
            ? new V1JobStatus
            {
                StartTime = started.UtcDateTime, CompletionTime = finished.UtcDateTime, Succeeded = Job.Spec.Completions ?? 1,
                Conditions = [new V1JobCondition { Type = "Complete", Status = "True", LastTransitionTime = finished.UtcDateTime }],
            }
            : FailJobRule(run) is { } rule
                ? new V1JobStatus // the Job controller fails the Job on the first such pod, without retries
                {
                    StartTime = started.UtcDateTime, Failed = 1,
                    Conditions =
                    [
                        new V1JobCondition
                        {
                            Type = "Failed", Status = "True", Reason = "PodFailurePolicy",
                            Message = $"Container {rule.OnExitCodes.ContainerName} for pod {Job.Metadata.NamespaceProperty}/{Job.Metadata.Name}-x failed with exit code {run.ExitCode} matching FailJob rule at index {Job.Spec.PodFailurePolicy!.Rules.IndexOf(rule)}",
                            LastTransitionTime = finished.UtcDateTime,
                        },
                    ],
                }
                : new V1JobStatus
                {
                    StartTime = started.UtcDateTime, Failed = (Job.Spec.BackoffLimit ?? 6) + 1,
                    Conditions =
                    [
                        new V1JobCondition
                        {
                            Type = "Failed", Status = "True", Reason = "BackoffLimitExceeded", Message = "Job has reached the specified backoff limit",
                            LastTransitionTime = finished.UtcDateTime,
                        },
                    ],
                };
        return new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = Job.Metadata.Name + (run.Index is null ? "" : "-" + run.Index) + "-x",
                NamespaceProperty = Job.Metadata.NamespaceProperty,
                Labels = Job.Spec.Template.Metadata.Labels,
                Annotations = run.Index is null ? null : new Dictionary<string, string> { [ExperimentNames.CompletionIndexAnnotation] = run.Index },
            },
            Status = new V1PodStatus
            {
                Phase = succeeded ? "Succeeded" : "Failed",
                ContainerStatuses =
                [
                    new V1ContainerStatus
                    {
                        Name = Trainer.Name, Image = Trainer.Image, ImageID = "", Ready = false, RestartCount = 0,
                        State = new V1ContainerState
                        {
                            Terminated = new V1ContainerStateTerminated { ExitCode = run.ExitCode, Message = run.TerminationMessage, FinishedAt = finished.UtcDateTime },
                        },
                    },
                ],
            },
        };
    }

    private Dictionary<string, string> Env(V1Container container, string? index) =>
        (container.Env ?? []).ToDictionary(e => e.Name, e => e switch
        {
            { Value: { } value } => Local(value, index),
            { ValueFrom.FieldRef.FieldPath: var field } when field == $"metadata.annotations['{ExperimentNames.CompletionIndexAnnotation}']" =>
                index ?? throw new InvalidOperationException($"env {e.Name} reads the completion index of a pod that has none"),
            { ValueFrom.SecretKeyRef: { } secret } => SecretKeys[secret.Key],
            _ => throw new InvalidOperationException($"env {e.Name}: neither a value, the completion index nor a Secret key"),
        });

    private string[] Args(V1Container container, string? index)
    {
        Assert.Equal("fastreid", Assert.Single(container.Command)); // the binary CliRunner runs
        var args = container.Args.Select(a => Local(a, index)).ToArray();
        // each pod has a network of its own; here they share one, so the metrics page gets a port nobody holds
        int metrics = Array.IndexOf(args, "--metrics-port");
        if (metrics >= 0) args[metrics + 1] = DistributedTrainingTests.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        return args;
    }

    /// <summary>A path in the pod as a path here.</summary>
    private string Local(string path, string? index)
    {
        if (path == Trainer.TerminationMessagePath) return TerminationFile(index);
        foreach (var (mount, folder) in _mounts)
            if (path == mount || path.StartsWith(mount + "/", StringComparison.Ordinal)) return folder + path[mount.Length..];
        return path;
    }

    /// <summary>A file's text with each path under a mount (a whole path segment: /mnt/pvc/models, not /mnt/pvc/models2) as a path here.</summary>
    private string LocalPaths(string text)
    {
        foreach (var (mount, folder) in _mounts.OrderByDescending(m => m.Key.Length))
            text = Regex.Replace(text, Regex.Escape(mount) + @"(?=[/'""\s,\]]|$)", folder.Replace("$", "$$", StringComparison.Ordinal), RegexOptions.Multiline);
        return text;
    }

    /// <summary>The inverse of <see cref="LocalPaths"/>: each folder standing for a mount as the mount's path in the pod.</summary>
    private string PodPaths(string text)
    {
        foreach (var (mount, folder) in _mounts.OrderByDescending(m => m.Value.Length))
            text = Regex.Replace(text, Regex.Escape(folder) + @"(?=[/'""\s,\]]|$)", mount.Replace("$", "$$", StringComparison.Ordinal), RegexOptions.Multiline);
        return text;
    }

    private static string LogTail(string log)
    {
        var lines = log.Split('\n');
        int keep = LogTailLines + (log.EndsWith('\n') ? 1 : 0); // a last newline ends a line, it starts none
        var tail = string.Join('\n', lines[Math.Max(0, lines.Length - keep)..]);
        var bytes = Encoding.UTF8.GetBytes(tail);
        return bytes.Length <= LogTailBytes ? tail : Encoding.UTF8.GetString(bytes[^LogTailBytes..]);
    }

    /// <summary>The Job's podFailurePolicy FailJob rule this pod's exit code matches, as the Job controller reads it, or null.</summary>
    private V1PodFailurePolicyRule? FailJobRule(PodRun run) =>
        Job.Spec.PodFailurePolicy?.Rules?.FirstOrDefault(r => r.Action == "FailJob" && r.OnExitCodes is { OperatorProperty: "In" } codes && codes.Values.Contains(run.ExitCode));
}
