using System.Diagnostics;
using System.Globalization;
using System.Text;
using FastReid.Cli.Launch;

namespace FastReid.Cli.Tests;

/// <summary>
/// <c>fastreid train --nproc-per-node N</c>: the workers' environment (pure), the supervision of real worker
/// processes (<c>/bin/sh</c> workers driven through <see cref="WorkerLauncher.Run"/>), and the real binary end to end.
/// Nothing here sleeps for a fixed time: each wait is on a condition, with a bound that fails the test.
/// </summary>
public sealed class LauncherTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly string Recipe = Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml");
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-launch-").FullName;
    private readonly List<int> _pidsToReap = [];

    public void Dispose()
    {
        foreach (var pid in _pidsToReap) KillIfAlive(pid);
        Directory.Delete(_dir, recursive: true);
    }

    // ---- the workers' environment ----

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Second_node_of_two_with_two_workers_each_holds_ranks_2_and_3_of_4()
    {
        var envs = WorkerEnvironment.For(2, Env(("NNODES", "2"), ("NODE_RANK", "1"), ("MASTER_ADDR", "job-0.job"), ("MASTER_PORT", "29500")),
            freePort: () => throw new InvalidOperationException("a multi-node run must not pick its own port"), launcherPid: 42);
        Assert.Equal(["0", "1"], envs.Select(e => e["LOCAL_RANK"]));
        Assert.Equal(["2", "3"], envs.Select(e => e["RANK"]));
        Assert.All(envs, e =>
        {
            Assert.Equal("4", e["WORLD_SIZE"]);
            Assert.Equal("2", e["NNODES"]);
            Assert.Equal("1", e["NODE_RANK"]);
            Assert.Equal("2", e["NPROC_PER_NODE"]);
            Assert.Equal("job-0.job", e["MASTER_ADDR"]);
            Assert.Equal("29500", e["MASTER_PORT"]);
            Assert.Equal("42", e[WorkerEnvironment.LauncherPidVariable]);
        });
    }

    [Fact]
    public void One_node_rendezvous_defaults_to_loopback_and_a_free_port()
    {
        var envs = WorkerEnvironment.For(3, Env(), freePort: () => 40123, launcherPid: 1);
        Assert.Equal(["0", "1", "2"], envs.Select(e => e["RANK"]));
        Assert.All(envs, e => Assert.Equal(("3", "127.0.0.1", "40123"), (e["WORLD_SIZE"], e["MASTER_ADDR"], e["MASTER_PORT"])));
    }

    [Fact]
    public void A_world_size_that_disagrees_with_nodes_times_workers_is_refused_naming_both()
    {
        var e = Assert.Throws<FastReidException>(() => WorkerEnvironment.For(2, Env(("NNODES", "2"), ("WORLD_SIZE", "8"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "1")), () => 1, 1));
        Assert.Contains("WORLD_SIZE=8", e.Message);
        Assert.Contains("NNODES 2 x --nproc-per-node 2 = 4", e.Message);
    }

    [Fact]
    public void Several_nodes_need_the_rendezvous_address_named()
    {
        var e = Assert.Throws<FastReidException>(() => WorkerEnvironment.For(2, Env(("NNODES", "2"), ("NODE_RANK", "0"), ("MASTER_PORT", "29500")), () => 1, 1));
        Assert.Contains("MASTER_ADDR must be set", e.Message);
        Assert.DoesNotContain("MASTER_PORT", e.Message);
        var both = Assert.Throws<FastReidException>(() => WorkerEnvironment.For(2, Env(("NNODES", "2")), () => 1, 1));
        Assert.Contains("MASTER_ADDR and MASTER_PORT must be set", both.Message);
    }

    [Fact]
    public void Workers_never_launch_again_and_the_flag_and_environment_must_agree()
    {
        Assert.Equal(1, WorkerEnvironment.ProcsPerNode(null, Env()));
        Assert.Equal(4, WorkerEnvironment.ProcsPerNode(null, Env(("NPROC_PER_NODE", "4"))));
        Assert.Equal(2, WorkerEnvironment.ProcsPerNode(2, Env(("NPROC_PER_NODE", "2"))));
        Assert.Equal(1, WorkerEnvironment.ProcsPerNode(null, Env(("NPROC_PER_NODE", "4"), (WorkerEnvironment.LauncherPidVariable, "7"))));
        Assert.Contains("NPROC_PER_NODE=4", Assert.Throws<FastReidException>(() => WorkerEnvironment.ProcsPerNode(2, Env(("NPROC_PER_NODE", "4")))).Message);
        Assert.Throws<CliUsageException>(() => WorkerEnvironment.ProcsPerNode(0, Env()));
    }

    // ---- supervision, with /bin/sh workers ----

    private static Worker Sh(int rank, string script) => new(rank, "/bin/sh", ["-c", script], new Dictionary<string, string>());

    private sealed record Launch(Task<LaunchOutcome> Outcome, IReadOnlyList<int> Pids, StringWriter Out, StringWriter Err);

    private Launch Start(TimeSpan grace, CancellationToken stop, params Worker[] workers)
    {
        var pids = new TaskCompletionSource<IReadOnlyList<int>>();
        StringWriter stdout = new(), stderr = new();
        var outcome = Task.Run(() => WorkerLauncher.Run(workers, stdout, stderr, grace, stop, started: p => pids.SetResult(p)));
        Assert.True(Task.WhenAny(pids.Task, outcome).Wait(Bound), "the workers did not start");
        if (outcome.IsFaulted) throw outcome.Exception!;
        _pidsToReap.AddRange(pids.Task.Result);
        return new Launch(outcome, pids.Task.Result, stdout, stderr);
    }

    private static LaunchOutcome Finished(Launch launch)
    {
        Assert.True(launch.Outcome.Wait(Bound), $"the launcher did not return within {Bound.TotalSeconds} s; stderr:\n{launch.Err}");
        return launch.Outcome.Result;
    }

    [Fact]
    public void A_worker_killed_while_the_others_run_takes_them_down_and_its_code_is_the_outcome()
    {
        var launch = Start(WorkerLauncher.DefaultGrace, CancellationToken.None, Sh(0, "exec sleep 60"), Sh(1, "exec sleep 60"), Sh(2, "exec sleep 60"));
        SigKill(launch.Pids[1]);
        var outcome = Finished(launch);
        Assert.Equal(new LaunchOutcome(137, 1, Stopped: false), outcome);
        Assert.Contains("fastreid train: rank 1 exited with code 137 (killed: SIGKILL", launch.Err.ToString());
        Assert.Contains("stopping the other 2 workers", launch.Err.ToString());
        Assert.All(launch.Pids, pid => Assert.False(IsAlive(pid), $"worker {pid} is still running"));
    }

    [Fact]
    public void A_worker_that_ignores_SIGTERM_is_killed_after_the_grace_period()
    {
        var ready = Path.Combine(_dir, "ready");
        var launch = Start(TimeSpan.FromSeconds(1), CancellationToken.None,
            Sh(0, $"while [ ! -e '{ready}' ]; do sleep 0.05; done; exit 3"),
            Sh(1, $"trap '' TERM; touch '{ready}'; exec sleep 60"));
        var outcome = Finished(launch);
        Assert.Equal(new LaunchOutcome(3, 0, Stopped: false), outcome);
        Assert.Contains("rank 0 exited with code 3; stopping the other worker", launch.Err.ToString());
        Assert.Contains("rank 1 did not stop within 1 s of SIGTERM; killing it", launch.Err.ToString());
        Assert.False(IsAlive(launch.Pids[1]));
    }

    [Fact]
    public void Other_ranks_lines_are_prefixed_and_all_zero_is_success()
    {
        var launch = Start(WorkerLauncher.DefaultGrace, CancellationToken.None,
            Sh(0, "exit 0"), Sh(1, "echo hello; echo oops >&2"), Sh(3, "printf 'a\\nb\\n'"));
        Assert.Equal(new LaunchOutcome(0, null, Stopped: false), Finished(launch));
        var lines = launch.Out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Order();
        Assert.Equal(["[rank 1] hello", "[rank 3] a", "[rank 3] b"], lines);
        Assert.Equal("[rank 1] oops", launch.Err.ToString().Trim());
    }

    [Fact]
    public void Stopping_the_launcher_stops_every_worker()
    {
        using var stop = new CancellationTokenSource();
        var launch = Start(WorkerLauncher.DefaultGrace, stop.Token, Sh(0, "exec sleep 60"), Sh(1, "exec sleep 60"));
        stop.Cancel();
        var outcome = Finished(launch);
        Assert.True(outcome.Stopped);
        Assert.Null(outcome.FailedRank);
        Assert.Contains("stopping 2 worker(s)", launch.Err.ToString());
        Assert.All(launch.Pids, pid => Assert.False(IsAlive(pid)));
    }

    // ---- the real binary ----

    [Fact]
    public async Task Workers_that_fail_on_bad_input_make_the_launcher_exit_with_their_code_naming_the_rank_and_leave_no_process()
    {
        var output = Path.Combine(_dir, "out");
        // no dataset under FASTREID_DATASETS: every worker meets the others, then fails reading the data (exit 1)
        using var launcher = CliRunner.Start(new Dictionary<string, string> { ["FASTREID_DATASETS"] = _dir },
            "train", "--nproc-per-node", "2", "--config", Recipe, "OUTPUT_DIR", output);
        var stdout = launcher.StandardOutput.ReadToEndAsync();
        var stderr = await launcher.StandardError.ReadToEndAsync().WaitAsync(Bound);
        await launcher.WaitForExitAsync().WaitAsync(Bound);
        Assert.True(launcher.ExitCode == 1, $"exit {launcher.ExitCode}\n{stderr}{await stdout}");
        Assert.Matches(@"fastreid train: rank [01] exited with code 1", stderr);
        Assert.Contains("Market1501", stderr + await stdout);
        Assert.Empty(WorkersOf(launcher.Id));
    }

    /// <summary>
    /// Both pods the operator plans for a 2-node x 2-GPU experiment (on the CPU, as this machine has no GPU) run as
    /// launcher processes of the real trainer: the init container's synthetic data, the mounted config, the
    /// downward API's completion index, DNS's part (MASTER_ADDR: this host). The four ranks train together, the
    /// pod of index 0 alone writes a result, and that result, read back as its termination message, becomes the
    /// experiment's status.
    /// </summary>
    [Fact]
    public async Task The_planned_pods_of_a_2x2_experiment_train_as_four_ranks_and_the_rank_zero_result_becomes_the_status()
    {
        var now = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        // the output is on a claim (a cluster run has no local paths); its folder here stands for it
        var claim = Path.Combine(_dir, "claim");
        var output = Path.Combine(claim, "out");
        var experiment = new FastReid.Api.V1Alpha1.ReidExperiment
        {
            Metadata = new FastReid.Api.V1Alpha1.ObjectMeta { Name = "ddp", Namespace = "team-a", Uid = "uid-ddp", Generation = 1 },
            Spec = new FastReid.Api.V1Alpha1.ReidExperimentSpec
            {
                Dataset = new FastReid.Api.V1Alpha1.DatasetSpec
                {
                    Name = "Synthetic", Synthetic = new FastReid.Api.V1Alpha1.SyntheticDatasetSpec { Identities = 16, TrainImages = 8, Cameras = 3, Seed = 2 },
                },
                Config = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse("""
                    {"MODEL": {"DEVICE": "cpu", "BACKBONE": {"DEPTH": "18x", "WIDTH_MULT": 0.25, "FEAT_DIM": 128, "PRETRAIN": false}},
                     "INPUT": {"SIZE_TRAIN": [64, 32], "SIZE_TEST": [64, 32]},
                     "DATALOADER": {"NUM_WORKERS": 1},
                     "SOLVER": {"IMS_PER_BATCH": 16, "MAX_EPOCH": 2, "WARMUP_ITERS": 2, "CHECKPOINT_PERIOD": 1},
                     "TEST": {"EVAL_PERIOD": 1}}
                    """)!,
                Resources = new FastReid.Api.V1Alpha1.ResourcesSpec { Nodes = 2, GpusPerNode = 2 },
                Output = new FastReid.Api.V1Alpha1.OutputSpec { Uri = "pvc://ddp-models/out" },
            },
        };
        var first = FastReid.Pipeline.Experiments.ReidExperimentPlanner.Plan(experiment, FastReid.Pipeline.ObservedChildren.None(now));
        var planned = PlannedPods.Of(first.Actions, _dir, new Dictionary<string, string> { ["ddp-models"] = claim });
        Assert.Equal(["train", "--nproc-per-node", "2"], planned.Trainer.Args.Take(3));

        // the kubelet's part: the init container writes the datasets, the ConfigMap is mounted; DNS's part: MASTER_ADDR is this host
        planned.RunInitContainers();
        var dns = new Dictionary<string, string>
        {
            ["MASTER_ADDR"] = "127.0.0.1", // the headless Service's DNS name of pod 0
            ["MASTER_PORT"] = DistributedTrainingTests.FreePort().ToString(CultureInfo.InvariantCulture),
        };
        var pods = new List<(Process Launcher, Task<string> Stdout, Task<string> Stderr)>();
        foreach (var index in new[] { "0", "1" })
        {
            var launcher = planned.Start(index, dns);
            _pidsToReap.Add(launcher.Id);
            pods.Add((launcher, launcher.StandardOutput.ReadToEndAsync(), launcher.StandardError.ReadToEndAsync()));
        }
        foreach (var (launcher, stdout, stderr) in pods)
        {
            await launcher.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
            Assert.True(launcher.ExitCode == 0, $"exit {launcher.ExitCode}\n{await stderr}{await stdout}");
        }
        Assert.Contains("data-parallel: 4 ranks (2 node(s) x 2)", await pods[0].Stdout);
        Assert.False(File.Exists(planned.TerminationFile("1"))); // ranks 2 and 3 write nothing
        Assert.True(File.Exists(Path.Combine(output, "model_final.pth")));

        var rankZero = planned.Finish(planned.Ended("0", pods[0].Launcher.ExitCode, await pods[0].Stdout, await pods[0].Stderr), now, now.AddMinutes(1));
        experiment.Status = first.Status;
        var done = FastReid.Pipeline.Experiments.ReidExperimentPlanner.Plan(experiment,
            FastReid.Pipeline.ObservedChildren.None(now.AddMinutes(2)).With([planned.Job]).With([rankZero]));
        Assert.Equal(FastReid.Api.V1Alpha1.Phases.Succeeded, done.Status.Phase);
        var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement;
        Assert.Equal(metrics.GetProperty("mAP").GetDouble(), done.Status.Metrics!.MAP!.Value, 6);
        Assert.Equal("pvc://ddp-models/out/model_final.pth", done.Status.Artefacts!.Model);
    }

    /// <summary>
    /// A real launcher whose real workers stay up: their --config is a FIFO nobody writes, so each worker blocks
    /// reading it (the launcher itself never opens the config).
    /// </summary>
    private (Process Launcher, List<int> Workers) StartBlockedWorkers()
    {
        var fifo = Path.Combine(_dir, "config.yml");
        using (var mkfifo = Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        string output = Path.Combine(_dir, "out");
        var launcher = CliRunner.Start(null, "train", "--config", fifo, "--nproc-per-node", "2", "OUTPUT_DIR", output);
        _pidsToReap.Add(launcher.Id);
        List<int> workers = [];
        WaitUntil(() => (workers = WorkersOf(launcher.Id)).Count == 2 || launcher.HasExited, "two workers running");
        if (launcher.HasExited) Assert.Fail("the launcher exited early: " + launcher.StandardError.ReadToEnd());
        _pidsToReap.AddRange(workers);
        // the same command without the launcher's option
        Assert.All(workers, pid => Assert.Equal(["train", "--config", fifo, "OUTPUT_DIR", output],
            File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries).Skip(1)));
        return (launcher, workers);
    }

    [Fact]
    public void Workers_exit_when_their_launcher_is_SIGKILLed()
    {
        var (launcher, workers) = StartBlockedWorkers();
        using (launcher)
        {
            launcher.Kill(); // SIGKILL: no handler runs, only the kernel closes the workers' stdin pipes
            launcher.WaitForExit();
            WaitUntil(() => workers.All(pid => !IsAlive(pid)), "workers gone after their launcher was killed");
        }
    }

    [Fact]
    public async Task A_worker_SIGKILLed_mid_run_ends_the_launcher_with_its_code_and_the_rank_named()
    {
        var (launcher, workers) = StartBlockedWorkers();
        using (launcher)
        {
            var stderr = launcher.StandardError.ReadToEndAsync();
            var rank1 = workers.Single(pid => RankOf(pid) == 1);
            SigKill(rank1);
            await launcher.WaitForExitAsync().WaitAsync(Bound);
            Assert.Equal(137, launcher.ExitCode);
            Assert.Contains("fastreid train: rank 1 exited with code 137", await stderr.WaitAsync(Bound));
            Assert.All(workers, pid => Assert.False(IsAlive(pid), $"worker {pid} outlived the launcher"));
        }
    }

    [Fact]
    public void SIGTERM_to_the_launcher_stops_every_worker()
    {
        var (launcher, workers) = StartBlockedWorkers();
        using (launcher)
        {
            using (var term = Process.Start("kill", ["-TERM", launcher.Id.ToString(CultureInfo.InvariantCulture)])) term.WaitForExit();
            Assert.True(launcher.WaitForExit(Bound), "the launcher did not exit");
            Assert.Equal(143, launcher.ExitCode);
            Assert.All(workers, pid => Assert.False(IsAlive(pid), $"worker {pid} outlived the launcher"));
        }
    }

    // ---- /proc ----

    private static void WaitUntil(Func<bool> condition, string what) => CliRunner.WaitUntil(condition, what, Bound);

    private static Dictionary<string, string> Environ(int pid)
    {
        try
        {
            return Encoding.UTF8.GetString(File.ReadAllBytes($"/proc/{pid}/environ"))
                .Split('\0', StringSplitOptions.RemoveEmptyEntries).Select(v => v.Split('=', 2)).Where(kv => kv.Length == 2)
                .GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    /// <summary>Live processes started by the launcher <paramref name="launcherPid"/> (its marker in their environment).</summary>
    private static List<int> WorkersOf(int launcherPid) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : -1)
            .Where(pid => pid > 0 && IsAlive(pid)
                && Environ(pid).GetValueOrDefault(WorkerEnvironment.LauncherPidVariable) == launcherPid.ToString(CultureInfo.InvariantCulture))
            .ToList();

    private static int RankOf(int pid) => int.Parse(Environ(pid)["RANK"], CultureInfo.InvariantCulture);

    /// <summary>Running, as opposed to gone or a zombie awaiting its parent.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static void SigKill(int pid)
    {
        using var process = Process.GetProcessById(pid);
        process.Kill();
    }

    private static void KillIfAlive(int pid)
    {
        if (!IsAlive(pid)) return;
        try { using var p = Process.GetProcessById(pid); p.Kill(entireProcessTree: true); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
    }
}
