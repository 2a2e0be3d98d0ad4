using System.Diagnostics;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Controllers;
using FastReid.Operator.Hosting;
using FastReid.Operator.Tests.Packaging;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>
/// Live progress: the rank-0 pod of a running experiment is served by a real <c>fastreid train --metrics-port</c>
/// process on 127.0.0.1 (the pod's IP as the test's kubelet reports it); the operator reads it into
/// status.progress and the Progress column of <c>kubectl get</c>.
/// </summary>
public sealed partial class EmulatorTests
{
    private static readonly string Fastreid = Repo.PathOf("artifacts", "fastreid", "fastreid");

    private static Process StartFastreid(string dir, IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var start = new ProcessStartInfo(Fastreid) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env) start.Environment[k] = v;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [Fact]
    public async Task A_running_experiment_shows_its_trainers_progress_in_kubectl_get_and_a_failed_read_only_in_the_running_message()
    {
        Assert.True(File.Exists(Fastreid), $"{Fastreid} is missing: run `make build-cli` first (make test does)");
        int port = HostTests.FreePort();
        await _stop.CancelAsync();
        Assert.Equal(0, await _running);
        var options = OperatorOptions.Parse(["--metrics-port", "0", "--leader-elect=false", "--identity", "op-progress", "--trainer-metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], _ => null);
        using var stop = new CancellationTokenSource();
        var host = new OperatorHost(options, _client, NullLoggerFactory.Instance, [ReidExperimentController.Definition]).RunAsync(stop.Token);
        var dir = Directory.CreateTempSubdirectory("progress-").FullName;
        Process? trainer = null;
        try
        {
            await Apply("live", """
                {"dataset":{"name":"Market1501","uri":"s3://datasets/market1501"},
                 "config":{"SOLVER":{"MAX_EPOCH":30}},
                 "resources":{"nodes":1},
                 "output":{"uri":"s3://models/live"}}
                """);
            var job = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=live")).Items.SingleOrDefault(), "the Job");
            var args = job.Spec.Template.Spec.Containers[0].Args;
            Assert.Equal(port.ToString(System.Globalization.CultureInfo.InvariantCulture), args[args.IndexOf("--metrics-port") + 1]);
            var pod = await PendingPodOf("live");
            _kube.Kubelet.Start("team-a", pod.Metadata.Name);
            await _client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch("""{"status":{"podIP":"127.0.0.1"}}""", V1Patch.PatchType.MergePatch), pod.Metadata.Name, "team-a");

            // nothing listens yet: the Running condition says so, and there is no progress
            var target = $"http://127.0.0.1:{port}/metrics";
            var refused = await Eventually(async () => await Read("live") is { Status: { } s } e
                && Conditions.Find(s.Conditions, ConditionTypes.Running)?.Message is { } m && m.Contains("progress not read from " + target, StringComparison.Ordinal) ? e : null,
                "the Running message naming the unread page", 30_000);
            Assert.Equal(Phases.Running, refused.Status!.Phase);
            Assert.Null(refused.Status.Progress);

            // the real trainer, as the pod would run it (a tiny synthetic run that lasts: at 128x64 its 480 iterations
            // take about a minute on 2 cores, several of the operator's 15 s reading intervals; at 64x32 they took about
            // 15 s, and a run could end between two readings)
            var datasets = Path.Combine(dir, "datasets");
            var env = new Dictionary<string, string> { ["FASTREID_DATASETS"] = datasets, ["HOME"] = dir };
            using (var synth = StartFastreid(dir, env, "data", "synth", "--out", datasets, "--identities", "8", "--train-images", "64", "--cameras", "2", "--seed", "1"))
                await synth.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            trainer = StartFastreid(dir, env, "train", "--config", Repo.PathOf("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml"),
                "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "OUTPUT_DIR", Path.Combine(dir, "out"), "SOLVER.MAX_EPOCH", "30", "SOLVER.IMS_PER_BATCH", "16", "TEST.EVAL_PERIOD", "0",
                "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128");

            var moving = await Eventually(async () => await Read("live") is { Status.Progress.Iteration: > 0 } e ? e : null, "status.progress from the trainer", 120_000);
            var progress = moving.Status!.Progress!;
            Assert.Equal((30, 480L), (progress.MaxEpoch, progress.MaxIteration));
            Assert.Equal(progress.Summary, TrainerProgressSummary(progress));
            Assert.True(progress.Loss > 0 && progress.ImagesPerSecond > 0 && progress.EtaSeconds > 0, ApiJson.Serialize(progress));
            Assert.Equal("1 of 1 pod(s) running", Conditions.Find(moving.Status.Conditions, ConditionTypes.Running)!.Message);

            var table = await WithKubectl((kubectl, _) => kubectl(["get", "reidexperiments", "-n", "team-a"]));
            var header = table.Split('\n')[0];
            Assert.Contains("PROGRESS", header);
            var row = table.Split('\n').Single(l => l.StartsWith("live ", StringComparison.Ordinal));
            Assert.Matches(@"\s\d+% e\d+/30\s", row);

            // the trainer goes away: the progress stays as last read, and the message says why it is not read
            trainer.Kill(entireProcessTree: true);
            await trainer.WaitForExitAsync();
            var killedAt = DateTimeOffset.UtcNow;
            var unread = await Eventually(async () => await Read("live") is { Status: { } s } e
                && Conditions.Find(s.Conditions, ConditionTypes.Running)?.Message is { } m && m.Contains("progress not read from " + target, StringComparison.Ordinal) ? e : null,
                "the Running message after the trainer stopped", 60_000);
            Assert.True(unread.Status!.Progress is { Iteration: > 0 } kept && kept.ObservedAt <= killedAt, ApiJson.Serialize(unread.Status.Progress));
            Assert.Equal(("True", "PodsRunning"), (Conditions.Find(unread.Status.Conditions, ConditionTypes.Running)!.Status, Conditions.Find(unread.Status.Conditions, ConditionTypes.Running)!.Reason));
        }
        finally
        {
            if (trainer is { HasExited: false }) trainer.Kill(entireProcessTree: true);
            trainer?.Dispose();
            await stop.CancelAsync();
            Assert.Equal(0, await host);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string TrainerProgressSummary(TrainingProgress p) => Pipeline.Progress.TrainerProgress.Summary(p.Percent!.Value, p.Epoch, p.MaxEpoch);
}
