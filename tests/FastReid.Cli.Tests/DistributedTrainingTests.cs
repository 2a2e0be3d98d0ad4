using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace FastReid.Cli.Tests;

/// <summary>
/// Data-parallel training through the real binary: ranks are separate <c>fastreid train</c> processes that meet
/// at MASTER_ADDR:MASTER_PORT, started here one by one (not by the launcher, which LauncherTests cover) so a
/// test can kill or stop one rank; OMP_NUM_THREADS 1 gives each rank one of the two cores.
/// </summary>
public sealed class DistributedTrainingTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-dist-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    internal static string[] Args(string dir, params string[] more) =>
    [
        "train", "--config", Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml"),
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128",
        "SOLVER.MAX_EPOCH", "4", "TEST.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.WARMUP_ITERS", "3", "SEED", "11", "DATALOADER.NUM_WORKERS", "1",
        "OUTPUT_DIR", dir, .. more,
    ];

    /// <summary>One rank of a world of <paramref name="world"/> on this host.</summary>
    internal sealed class Rank : IDisposable
    {
        public Process Process { get; }
        private readonly Task<string> _stdout, _stderr;

        public Rank(IReadOnlyDictionary<string, string> env, int rank, int world, int port, string[] args, IReadOnlyDictionary<string, string>? extra = null)
        {
            var all = new Dictionary<string, string>(env)
            {
                ["WORLD_SIZE"] = world.ToString(), ["RANK"] = rank.ToString(), ["LOCAL_RANK"] = rank.ToString(),
                ["OMP_NUM_THREADS"] = "1", // the ranks share this host's two cores
                ["MASTER_ADDR"] = "127.0.0.1", ["MASTER_PORT"] = port.ToString(),
            };
            foreach (var (k, v) in extra ?? new Dictionary<string, string>()) all[k] = v;
            Process = CliRunner.Start(all, args);
            _stdout = Process.StandardOutput.ReadToEndAsync();
            _stderr = Process.StandardError.ReadToEndAsync();
        }

        public string Stdout => _stdout.Result;
        public string Stderr => _stderr.Result;

        /// <summary>Waits for the exit (bounded: a run that hangs fails the test instead of the suite).</summary>
        public int Exit(TimeSpan within)
        {
            if (!Process.WaitForExit(within))
            {
                Process.Kill(true);
                Process.WaitForExit();
                throw new TimeoutException($"rank did not exit within {within}; output:\n{Stdout}\n{Stderr}");
            }
            Process.WaitForExit();
            return Process.ExitCode;
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(true);
            Process.Dispose();
        }
    }

    internal static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Runs <paramref name="world"/> ranks to the end; returns rank 0's stdout and asserts every rank succeeded.</summary>
    internal static string RunWorld(IReadOnlyDictionary<string, string> env, int world, string[] args)
    {
        int port = FreePort();
        var ranks = Enumerable.Range(0, world).Select(r => new Rank(env, r, world, port, args)).ToList();
        try
        {
            foreach (var (rank, i) in ranks.Select((r, i) => (r, i)))
            {
                int code = rank.Exit(TimeSpan.FromMinutes(4));
                Assert.True(code == 0, $"rank {i} exited {code}:\n{rank.Stderr}\n{rank.Stdout}");
            }
            for (int i = 1; i < world; i++) Assert.Equal("", ranks[i].Stdout); // rank 0 reports for the run
            return ranks[0].Stdout;
        }
        finally
        {
            foreach (var r in ranks) r.Dispose();
        }
    }

    internal static string WeightsSha(string dir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json"))).RootElement.GetProperty("weights_sha256").GetString()!;

    private static int Checkpoints(string dir)
    {
        var root = Path.Combine(dir, "checkpoints");
        return Directory.Exists(root) ? Directory.GetFiles(root, "checkpoint.json", SearchOption.AllDirectories).Length : 0;
    }

    [Fact]
    public void Two_ranks_train_and_rank_zero_alone_publishes_one_set_of_artefacts()
    {
        var dir = Path.Combine(_out, "two");
        var stdout = RunWorld(data.Env, 2, Args(dir, "SOLVER.MAX_EPOCH", "2"));
        Assert.Contains("data-parallel: 2 ranks", stdout);
        Assert.Contains("evaluation of Market1501 after epoch 2", stdout);
        foreach (var f in new[] { "config.yaml", "model_final.pth", "metrics.json", "manifest.json", "result.json", "log.txt" })
            Assert.True(File.Exists(Path.Combine(dir, f)), $"{f} missing from {dir}");
        // one writer: the log has rank 0's lines once, and no rank left a scratch folder behind in the output
        var log = File.ReadAllText(Path.Combine(dir, "log.txt"));
        Assert.Single(log.Split('\n'), l => l.Contains("evaluation of Market1501 after epoch 2"));
        Assert.DoesNotContain(Directory.GetDirectories(dir), d => Path.GetFileName(d) != "checkpoints");
        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "result.json")));
        Assert.Equal(WeightsSha(dir), result.RootElement.GetProperty("weights_sha256").GetString());
    }

    /// <summary>
    /// 2 ranks x 8 images and 1 process x 16 see the same images with the same augmentations (per-sample seeds
    /// of the global batch); syncBN and the gathered triplet loss make each step's averaged gradient the
    /// one-process gradient. What remains is float32 summation order (the ring averages two half-batch sums,
    /// one process sums the whole batch; oneDNN picks other kernels for 8 and 16 images), about 1e-7 relative,
    /// which the steps carry along and which the triplet loss's hinge and hard mining amplify (this tiny net from
    /// scratch is chaotic: with CE alone 8 steps agree to 4e-7, with the triplet loss its losses drift apart
    /// after about 6 steps, as two one-process runs perturbed by 1e-7 would). SGD keeps the comparison about
    /// the data parallelism (Adam's first steps are sign-like, so a gradient that is zero but for rounding
    /// becomes a full step). Over the first 4 steps (one epoch) the weights agree to 3e-4 of their scale
    /// (measured 5e-5), while the same 2 ranks with plain BN (half-batch statistics) miss by about 0.1: the
    /// control that shows the comparison can tell.
    /// </summary>
    [Fact]
    public void Two_ranks_with_half_batches_give_the_weights_of_one_process_with_the_whole_batch()
    {
        string[] Sync(string d, params string[] more) =>
            Args(d, ["SOLVER.MAX_EPOCH", "1", "TEST.EVAL_PERIOD", "0", "SOLVER.CHECKPOINT_PERIOD", "0", "SOLVER.OPT", "SGD", "SOLVER.BASE_LR", "0.002",
                "MODEL.BACKBONE.NORM", "syncBN", "MODEL.HEADS.NORM", "syncBN", .. more]);
        var one = Path.Combine(_out, "one");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Sync(one));
        Assert.True(code == 0, stderr + stdout);
        var two = Path.Combine(_out, "two-sync");
        RunWorld(data.Env, 2, Sync(two));
        var plain = Path.Combine(_out, "two-bn");
        RunWorld(data.Env, 2, Sync(plain, "MODEL.BACKBONE.NORM", "BN", "MODEL.HEADS.NORM", "BN"));

        var (synced, worst) = RelativeDifference(one, two);
        var (unsynced, _) = RelativeDifference(one, plain);
        Assert.True(synced < 3e-4, $"2 ranks with syncBN differ from 1 process by {synced:E2} in {worst} (plain BN: {unsynced:E2})");
        Assert.True(unsynced > 10 * synced, $"the control (plain BN on 2 ranks) differs by only {unsynced:E2} against {synced:E2}: the comparison cannot tell");
    }

    /// <summary>The largest difference of any tensor of the two runs' final weights, relative to that tensor's scale (at least 1).</summary>
    private static (double Max, string Tensor) RelativeDifference(string a, string b)
    {
        var wa = FastReid.Engine.WeightLoading.ReadStateDict(Path.Combine(a, "model_final.pth"), "a");
        var wb = FastReid.Engine.WeightLoading.ReadStateDict(Path.Combine(b, "model_final.pth"), "b");
        Assert.Equal(wa.Keys.Order(), wb.Keys.Order());
        (double, string) max = (0, "");
        foreach (var (k, t) in wa)
        {
            if (!t.is_floating_point()) continue;
            double d = (t - wb[k]).abs().max().item<float>() / Math.Max(1f, t.abs().max().item<float>());
            if (d > max.Item1) max = (d, k);
        }
        return max;
    }

    [Fact]
    public void A_rank_killed_mid_run_ends_the_other_naming_it_and_a_resume_matches_the_uninterrupted_run()
    {
        string[] Long(string d, params string[] more) => Args(d, ["SOLVER.MAX_EPOCH", "10", .. more]);
        var reference = Path.Combine(_out, "reference");
        RunWorld(data.Env, 2, Long(reference));

        var dir = Path.Combine(_out, "killed");
        int port = FreePort();
        using (var r0 = new Rank(data.Env, 0, 2, port, Long(dir)))
        using (var r1 = new Rank(data.Env, 1, 2, port, Long(dir)))
        {
            CliRunner.WaitUntil(() => Checkpoints(dir) >= 1 || r0.Process.HasExited, "the first checkpoint", TimeSpan.FromMinutes(3));
            // (the output is read only on failure: reading it waits for the process to end)
            if (r0.Process.HasExited || r1.Process.HasExited) Assert.Fail("the run ended before rank 1 could be killed: " + r0.Stderr + r1.Stderr);
            r1.Process.Kill(); // SIGKILL, in the middle of the second epoch's steps
            var afterKill = Stopwatch.StartNew();
            int code = r0.Exit(TimeSpan.FromMinutes(2));
            // a closed connection is noticed within seconds (the bound for a silent peer is minutes)
            Assert.True(afterKill.Elapsed < TimeSpan.FromSeconds(30), $"rank 0 took {afterKill.Elapsed} to notice");
            Assert.True(code == 5, $"rank 0 exited {code}, expected 5 (peer lost, retried by the Job):\n{r0.Stderr}\n{r0.Stdout}");
            Assert.Contains("rank 1", r0.Stderr);
        }
        // the Job's retry: every rank restarts with RESUME auto and continues from the same checkpoint
        var resumed = RunWorld(data.Env, 2, Long(dir, "RESUME", "auto"));
        Assert.Contains("resumed from checkpoint", resumed);
        Assert.Equal(WeightsSha(reference), WeightsSha(dir));
    }

    [Fact]
    public void A_rank_that_stops_answering_ends_the_other_within_the_timeout_naming_it()
    {
        var dir = Path.Combine(_out, "silent");
        int port = FreePort();
        var timeout = new Dictionary<string, string> { ["FASTREID_DIST_TIMEOUT"] = "4" };
        // a budget it cannot finish before the test ends it
        using var r0 = new Rank(data.Env, 0, 2, port, Args(dir, "SOLVER.MAX_EPOCH", "1000"), timeout);
        using var r1 = new Rank(data.Env, 1, 2, port, Args(dir, "SOLVER.MAX_EPOCH", "1000"), timeout);
        CliRunner.WaitUntil(() => File.Exists(Path.Combine(dir, "config.yaml")) || r0.Process.HasExited, "rank 0 writing config.yaml", TimeSpan.FromMinutes(2));
        if (r0.Process.HasExited) Assert.Fail(r0.Stderr);
        Process.Start("kill", ["-STOP", r1.Process.Id.ToString()])!.WaitForExit(); // alive, connections open, silent
        try
        {
            var stopped = Stopwatch.StartNew();
            int code = r0.Exit(TimeSpan.FromMinutes(1));
            Assert.True(code == 5, $"rank 0 exited {code}:\n{r0.Stderr}");
            Assert.Contains("rank 1", r0.Stderr);
            Assert.True(stopped.Elapsed < TimeSpan.FromSeconds(30), $"rank 0 took {stopped.Elapsed} with a 4 s timeout");
        }
        finally
        {
            Process.Start("kill", ["-CONT", r1.Process.Id.ToString()])!.WaitForExit();
        }
    }
}
