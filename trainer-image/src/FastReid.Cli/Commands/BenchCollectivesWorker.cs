using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Distributed;
using FastReid.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Cli.Commands;

/// <summary>
/// One rank of <c>fastreid bench collectives</c>, started by the command as a child process with PyTorch's
/// variables (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Times all-reduce per size (each rep starts
/// after a barrier; a rep's time is the slowest rank's), and with <c>--check</c> compares the backend's results
/// with the tcp backend's on the same inputs. Rank 0 writes everything as JSON to <c>--result</c>.
/// </summary>
internal static class BenchCollectivesWorker
{
    public static int Run(string backend, long[] sizes, int warmup, int reps, bool check, string resultFile)
    {
        var env = DistributedEnv.FromEnvironment();
        var options = CollectiveOptions.FromEnvironment() with { SegmentBytes = SegmentBytes() };
        using var collectives = Collectives.FromEnvironment(backend, options);
        var device = collectives.TensorDevice == TorchSharp.DeviceType.CUDA ? new Device(TorchSharp.DeviceType.CUDA, env.LocalRank) : CPU;
        var cases = new JsonArray();
        foreach (var bytes in sizes)
        {
            using var scope = NewDisposeScope();
            var tensor = ones(bytes / sizeof(float), dtype: float32, device: device);
            var times = new double[reps];
            for (var i = 0; i < warmup + reps; i++)
            {
                collectives.Barrier();
                var watch = Stopwatch.StartNew();
                collectives.AllReduce([tensor], ReduceOp.Sum);
                if (i >= warmup) times[i - warmup] = watch.Elapsed.TotalSeconds;
            }
            var slowest = Slowest(collectives, times);
            cases.Add(new JsonObject { ["bytes"] = bytes, ["times_s"] = new JsonArray([.. slowest.Select(t => (JsonNode)Math.Round(t, 7))]) });
        }
        var result = new JsonObject { ["world"] = collectives.WorldSize, ["cases"] = cases };
        if (collectives is NcclCollectives nccl) result["nccl_version"] = nccl.NcclVersionText;
        if (check) result["check"] = Check(collectives, env, options, device);
        if (collectives.Rank == 0) File.WriteAllText(resultFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        collectives.Barrier();
        return 0;
    }

    private static int SegmentBytes() =>
        Environment.GetEnvironmentVariable("FASTREID_BENCH_SEGMENT_BYTES") is { Length: > 0 } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : new CollectiveOptions().SegmentBytes;

    /// <summary>Per rep, the largest time over the ranks: a collective is done when its slowest rank is.</summary>
    private static double[] Slowest(ICollectives collectives, double[] times)
    {
        var mine = new byte[times.Length * sizeof(double)];
        Buffer.BlockCopy(times, 0, mine, 0, mine.Length);
        var all = collectives.AllGatherBytes(mine);
        var slowest = new double[times.Length];
        foreach (var rank in all)
        {
            var theirs = new double[times.Length];
            Buffer.BlockCopy(rank, 0, theirs, 0, rank.Length);
            for (var i = 0; i < times.Length; i++) slowest[i] = Math.Max(slowest[i], theirs[i]);
        }
        return slowest;
    }

    /// <summary>
    /// The backend's all-reduce (sum and mean, a list of two tensors whose sizes divide nothing), broadcast and
    /// uneven all-gather against the tcp backend on the same CPU inputs (at world size 1 the identity). Sums may
    /// differ in the last bits where the backends add in different orders: the tolerance is 1e-5 relative.
    /// </summary>
    private static JsonObject Check(ICollectives backend, DistributedEnv env, CollectiveOptions options, Device device)
    {
        int w = backend.WorldSize, r = backend.Rank;
        using var scope = NewDisposeScope();
        var generator = new Generator(1000 + (ulong)r);
        Tensor[] inputs = [randn([1_000_003], generator: generator), randn([7], generator: generator)];
        using var reference = w == 1
            ? (ICollectives)new SingleProcessCollectives()
            : TcpCollectives.Connect(r, w, env.LocalRank, Environment.GetEnvironmentVariable("MASTER_ADDR")!,
                int.Parse(Environment.GetEnvironmentVariable("MASTER_PORT")!, System.Globalization.CultureInfo.InvariantCulture) + 1, options);
        var report = new JsonObject();
        var failures = new List<string>();
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Mean })
        {
            var expected = inputs.Select(t => t.clone()).ToArray();
            reference.AllReduce(expected, op);
            var actual = inputs.Select(t => t.to(device)).ToArray();
            backend.AllReduce(actual, op);
            double maxAbs = 0, maxRel = 0;
            for (var i = 0; i < inputs.Length; i++)
            {
                var diff = (actual[i].cpu() - expected[i]).abs();
                maxAbs = Math.Max(maxAbs, diff.max().item<float>());
                maxRel = Math.Max(maxRel, (diff / (expected[i].abs() + 1e-3f)).max().item<float>());
            }
            var ok = w == 1 ? maxAbs == 0 : maxRel <= 1e-5;
            if (!ok) failures.Add($"all-reduce {op}: max abs error {maxAbs:G4}, max relative {maxRel:G4}");
            report[$"allreduce_{op.ToString().ToLowerInvariant()}_max_abs_error"] = maxAbs;
            report[$"allreduce_{op.ToString().ToLowerInvariant()}_max_rel_error"] = maxRel;
        }
        var root = w - 1;
        var broadcast = (r == root ? arange(10_001, dtype: int64) : zeros(10_001, dtype: int64)).to(device);
        backend.Broadcast(broadcast, root);
        if (!Same(broadcast.cpu(), arange(10_001, dtype: int64))) failures.Add($"broadcast from rank {root} differs");
        var shard = full([r + 1, 3], r, dtype: float32).to(device);
        var gathered = backend.AllGather(shard).cpu();
        var expectedGather = cat([.. Enumerable.Range(0, w).Select(i => full([i + 1, 3], i, dtype: float32))], 0);
        if (!Same(gathered, expectedGather)) failures.Add("uneven all-gather differs");
        report["broadcast_and_allgather_exact"] = !failures.Any(f => f.StartsWith("broadcast") || f.StartsWith("uneven"));
        // every rank's verdict, so rank 0's report covers them all
        var verdicts = backend.AllGatherBytes(Encoding.UTF8.GetBytes(string.Join("; ", failures)));
        var all = verdicts.Select((v, i) => (rank: i, text: Encoding.UTF8.GetString(v))).Where(v => v.text.Length > 0).Select(v => $"rank {v.rank}: {v.text}").ToArray();
        report["pass"] = all.Length == 0;
        report["failures"] = new JsonArray([.. all.Select(f => (JsonNode)f)]);
        report["tolerance"] = w == 1 ? "exact (identity)" : "1e-5 relative for all-reduce; exact for broadcast and all-gather";
        return report;
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
