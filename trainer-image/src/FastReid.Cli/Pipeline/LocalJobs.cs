using System.Globalization;
using FastReid.Cli.Launch;
using FastReid.Cli.Tune;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Cli.Pipeline;

/// <summary>
/// The Job controller of <c>fastreid pipeline run</c>: each unfinished, unsuspended Job of the <see cref="LocalCluster"/>
/// gets its pods (one per completion index, started together as one attempt, the rendezvous on this machine), at most
/// <c>--parallel</c> Jobs at once, oldest first. A pod's end is written back as the kubelet and the Job controller
/// write it: the pod Succeeded or Failed with its container's exit code and termination message; the Job Complete
/// when every index succeeded, Failed at once when an exit code matches its podFailurePolicy's FailJob rule, Failed
/// after backoffLimit + 1 failed attempts, else a new attempt (which resumes the run's checkpoint: the config says
/// RESUME auto). A failed pod stops the rest of its attempt. A suspended Job's pods are stopped and removed. Pods that
/// were running when a runner stopped or died are ended (their process groups, by pid and start time) and removed
/// without counting, as an evicted pod is (the pod failure policy's DisruptionTarget rule); their Job starts again.
/// </summary>
internal sealed class LocalJobs(LocalCluster cluster, int parallel, TextWriter log)
{
    public const string JobNameLabel = "batch.kubernetes.io/job-name";
    private readonly Dictionary<string, (LocalPod Pod, Task<PodEnd?> Run)> _running = new(StringComparer.Ordinal);

    public bool Any => _running.Count > 0;

    /// <summary>Completes when any running pod ends (never while none runs).</summary>
    public Task AnyEnded => _running.Count == 0 ? new TaskCompletionSource().Task : Task.WhenAny(_running.Values.Select(r => (Task)r.Run));

    /// <summary>Ends what earlier runners left running and removes those pods (not counted as failures).</summary>
    public async Task RecoverAsync()
    {
        foreach (var pod in cluster.All<V1Pod>().Where(p => p.Status?.Phase is "Running" or "Pending"))
        {
            var annotations = pod.Metadata.Annotations ?? new Dictionary<string, string>();
            if (annotations.TryGetValue(LocalPod.PidAnnotation, out var pid) && annotations.TryGetValue(LocalPod.StartAnnotation, out var start))
                await TrialProcess.EndLeftoversAsync(int.Parse(pid, CultureInfo.InvariantCulture), long.Parse(start, CultureInfo.InvariantCulture));
            log.WriteLine($"pod {pod.Metadata.Name} was running when the runner stopped: starting its Job again");
            cluster.Delete("Pod", LocalCluster.Namespace(pod), pod.Metadata.Name);
        }
    }

    /// <summary>Stops and removes the pods of suspended Jobs; starts pods for Jobs that have none running, within the parallelism.</summary>
    public async Task SyncAsync(DateTimeOffset now)
    {
        foreach (var job in cluster.All<V1Job>().OrderBy(j => j.Metadata.CreationTimestamp).ThenBy(j => j.Metadata.Name, StringComparer.Ordinal))
        {
            if (Finished(job)) continue;
            var mine = _running.Where(r => r.Value.Pod.JobName == job.Metadata.Name && r.Value.Pod.Namespace == LocalCluster.Namespace(job)).ToList();
            if (job.Spec.Suspend == true)
            {
                foreach (var (key, run) in mine) await StopAsync(key, run.Pod);
                continue;
            }
            if (mine.Count > 0 || RunningJobs() >= parallel) continue;
            Start(job, now);
        }
    }

    /// <summary>The metrics page of the Job's running rank-0 trainer on this machine, or null (not running, or no page yet).</summary>
    public Uri? MetricsPage(string ns, string jobName) =>
        _running.Values.Select(r => r.Pod).FirstOrDefault(p => p.Namespace == ns && p.JobName == jobName && p.Index is null or "0")?.MetricsPort is { } port
            ? new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/metrics"))
            : null;

    private int RunningJobs() => _running.Values.Select(r => (r.Pod.Namespace, r.Pod.JobName)).Distinct().Count();

    private void Start(V1Job job, DateTimeOffset now)
    {
        var ns = LocalCluster.Namespace(job);
        bool indexed = job.Spec.CompletionMode == "Indexed";
        int completions = job.Spec.Completions ?? 1;
        int attempt = (job.Status?.Failed ?? 0) + 1;
        var overrides = new Dictionary<string, string>
        {
            ["MASTER_ADDR"] = "127.0.0.1",
            ["MASTER_PORT"] = WorkerLauncher.FreePort().ToString(CultureInfo.InvariantCulture),
        };
        var configMaps = cluster.All<V1ConfigMap>().Where(m => LocalCluster.Namespace(m) == ns).ToArray();
        for (int i = 0; i < completions; i++)
        {
            string? index = indexed ? i.ToString(CultureInfo.InvariantCulture) : null;
            var name = $"{job.Metadata.Name}-{(index is null ? "" : index + "-")}{attempt}";
            cluster.Delete("Pod", ns, name); // an earlier runner's record of the same attempt
            var labels = new Dictionary<string, string>(job.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>()) { [JobNameLabel] = job.Metadata.Name };
            var pod = new V1Pod
            {
                ApiVersion = "v1",
                Kind = "Pod",
                Metadata = new V1ObjectMeta
                {
                    Name = name,
                    Labels = labels,
                    Annotations = index is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [ExperimentNames.CompletionIndexAnnotation] = index },
                    OwnerReferences = [new V1OwnerReference { ApiVersion = "batch/v1", Kind = "Job", Name = job.Metadata.Name, Uid = job.Metadata.Uid, Controller = true }],
                },
                // every pod shares this machine's network: the planner's progress target is this address, and the
                // runner reads the page on the port the pod's trainer was given (MetricsPage)
                Status = new V1PodStatus { Phase = "Running", StartTime = now.UtcDateTime, PodIP = "127.0.0.1" },
            };
            cluster.Create(ns, pod, now);
            var local = new LocalPod(job, name, index, cluster.Dir, configMaps, overrides, process => Started(ns, name, process)) { JobName = job.Metadata.Name, Namespace = ns };
            _running[$"{ns}/{name}"] = (local, local.RunAsync());
            log.WriteLine($"  pod {name} started (logs in {local.Folder})");
        }
        job.Status ??= new V1JobStatus();
        job.Status.StartTime ??= now.UtcDateTime;
        job.Status.Active = completions;
        job.Status.Ready = completions;
        cluster.Replace(job);
    }

    /// <summary>Records a container's process on its pod, so a later runner can end it if this one dies.</summary>
    private void Started(string ns, string name, TrialProcess process)
    {
        if (cluster.Get<V1Pod>(ns, name) is not { } pod) return;
        pod.Metadata.Annotations ??= new Dictionary<string, string>();
        pod.Metadata.Annotations[LocalPod.PidAnnotation] = process.Pid.ToString(CultureInfo.InvariantCulture);
        pod.Metadata.Annotations[LocalPod.StartAnnotation] = (process.StartTicks ?? 0).ToString(CultureInfo.InvariantCulture);
        cluster.Replace(pod);
    }

    /// <summary>Writes back the end of every pod that ended; true when any did.</summary>
    public async Task<bool> ReapAsync()
    {
        bool any = false;
        foreach (var (key, (pod, run)) in _running.Where(r => r.Value.Run.IsCompleted).ToList())
        {
            _running.Remove(key);
            any = true;
            var end = await run; // a pod that could not start (a Job the runner cannot run) throws here, ending the runner with its message
            if (end is null) continue; // stopped
            Ended(pod, end);
        }
        return any;
    }

    private void Ended(LocalPod local, PodEnd end)
    {
        var ns = local.Namespace;
        var job = cluster.Get<V1Job>(ns, local.JobName);
        var pod = cluster.Get<V1Pod>(ns, local.Name);
        if (job is null || pod is null) return; // deleted meanwhile (a new generation, ttl)
        bool succeeded = end.ExitCode == 0 && end.FailedInit is null;
        var trainer = job.Spec.Template.Spec.Containers.Single(c => c.Name == TrainerPod.Container);
        var terminated = new V1ContainerStateTerminated { ExitCode = end.ExitCode, Message = end.Message, FinishedAt = end.FinishedAt.UtcDateTime };
        pod.Status.Phase = succeeded ? "Succeeded" : "Failed";
        if (end.FailedInit is { } init)
        {
            pod.Status.InitContainerStatuses = [Status(init, job.Spec.Template.Spec.InitContainers!.First(c => c.Name == init).Image, terminated)];
        }
        else
        {
            pod.Status.ContainerStatuses = [Status(trainer.Name, trainer.Image, terminated)];
        }
        cluster.Replace(pod);

        var status = job.Status ??= new V1JobStatus();
        var finished = end.FinishedAt.UtcDateTime;
        if (succeeded)
        {
            status.Succeeded = (status.Succeeded ?? 0) + 1;
            status.Active = Math.Max(0, (status.Active ?? 1) - 1);
            status.Ready = status.Active;
            if (status.Succeeded >= (job.Spec.Completions ?? 1))
            {
                status.CompletionTime = finished;
                status.Conditions = [new V1JobCondition { Type = "Complete", Status = "True", LastTransitionTime = finished }];
                log.WriteLine($"  Job {job.Metadata.Name} complete");
            }
            cluster.Replace(job);
            return;
        }

        log.WriteLine($"  pod {local.Name} failed: {(end.FailedInit is { } i ? $"init container {i}" : "trainer")} exited with code {end.ExitCode}" +
            (local.LastError(end.FailedInit ?? trainer.Name) is { } last ? $": {FastReid.Contracts.RunResult.Truncate(last, 300)}" : ""));
        // the rest of this attempt stops with it; the next attempt starts them all again
        foreach (var (key, other) in _running.Where(r => r.Value.Pod.JobName == job.Metadata.Name && r.Value.Pod.Namespace == ns).ToList())
        {
            _running.Remove(key);
            other.Pod.StopAsync().GetAwaiter().GetResult();
            cluster.Delete("Pod", ns, other.Pod.Name);
        }
        status.Failed = (status.Failed ?? 0) + 1;
        status.Active = 0;
        status.Ready = 0;
        var rule = end.FailedInit is null ? FailJobRule(job, end.ExitCode) : null;
        if (rule is not null)
        {
            status.Conditions = [new V1JobCondition
            {
                Type = "Failed", Status = "True", Reason = "PodFailurePolicy", LastTransitionTime = finished,
                Message = $"Container {TrainerPod.Container} for pod {ns}/{local.Name} failed with exit code {end.ExitCode} matching FailJob rule at index {job.Spec.PodFailurePolicy!.Rules.IndexOf(rule)}",
            }];
        }
        else if (status.Failed > (job.Spec.BackoffLimit ?? 6))
        {
            status.Conditions = [new V1JobCondition
            {
                Type = "Failed", Status = "True", Reason = "BackoffLimitExceeded", Message = "Job has reached the specified backoff limit", LastTransitionTime = finished,
            }];
        }
        cluster.Replace(job);
    }

    private static V1ContainerStatus Status(string name, string image, V1ContainerStateTerminated terminated) => new()
    {
        Name = name, Image = image, ImageID = "", Ready = false, RestartCount = 0, State = new V1ContainerState { Terminated = terminated },
    };

    private static V1PodFailurePolicyRule? FailJobRule(V1Job job, int exitCode) =>
        job.Spec.PodFailurePolicy?.Rules?.FirstOrDefault(r => r.Action == "FailJob" && r.OnExitCodes is { OperatorProperty: "In" } codes && codes.Values.Contains(exitCode));

    public static bool Finished(V1Job job) => job.Status?.Conditions?.Any(c => c.Type is "Complete" or "Failed" && c.Status == "True") == true;

    /// <summary>Stops every running pod (their process groups); their records stay Running, so the next runner starts them again.</summary>
    public async Task StopAllAsync()
    {
        await Task.WhenAll(_running.Values.Select(r => r.Pod.StopAsync()));
        await Task.WhenAll(_running.Values.Select(r => r.Run.ContinueWith(_ => { }, TaskScheduler.Default)));
        _running.Clear();
    }

    private async Task StopAsync(string key, LocalPod pod)
    {
        await pod.StopAsync();
        await _running[key].Run.ContinueWith(_ => { }, TaskScheduler.Default);
        _running.Remove(key);
        cluster.Delete("Pod", pod.Namespace, pod.Name);
        log.WriteLine($"  pod {pod.Name} stopped: its Job is suspended");
    }

    /// <summary>Pods of Jobs that no longer exist (deleted by a plan) are stopped.</summary>
    public async Task StopOrphansAsync()
    {
        foreach (var (key, run) in _running.Where(r => cluster.Get<V1Job>(r.Value.Pod.Namespace, r.Value.Pod.JobName) is null).ToList())
        {
            await run.Pod.StopAsync();
            await run.Run.ContinueWith(_ => { }, TaskScheduler.Default);
            _running.Remove(key);
        }
    }
}
