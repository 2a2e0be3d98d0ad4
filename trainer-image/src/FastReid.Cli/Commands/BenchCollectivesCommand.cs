using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Distributed;
using FastReid.Storage;

namespace FastReid.Cli.Commands;

internal static class BenchCollectivesCommand
{
    private const double Goal = 0.70;
    private const double MB = 1e6, GB = 1e9;
    private const double MaxSizeMb = 4096;
    private const int MaxWorld = 64;

    public static readonly CliCommand Definition = new("bench collectives",
        "all-reduce bus bandwidth of the collectives vs the raw loopback TCP stream",
        """
        Usage: fastreid bench collectives [--backend tcp|nccl] [--sizes MB,...] [--worlds W,...] [--reps N]
                                          [--warmup N] [--check] [--out FILE]

        Starts W ranks as child processes of this binary on 127.0.0.1 for each world size, all-reduces
        float32 tensors of each size (warm-up, then N reps, each after a barrier; a rep takes as long as
        its slowest rank) and reports the median as bus bandwidth = bytes x 2(W-1)/W / time, the figure a
        ring moves per link. In the same run it measures one loopback TCP stream (one sender thread, one
        receiver thread, 4 MiB writes): the ring's bound. Prints a table and writes JSON with the ratio
        bus bandwidth / stream per case against the goal 0.70 (tcp only; nccl runs over GPU links).

        Options:
          --backend B   tcp (default) or nccl (a CUDA build, one GPU per rank)
          --sizes L     sizes in MB (1e6 bytes), default 1,10,100
          --worlds L    world sizes, default 2,4 (nccl: 1 and the number of GPUs)
          --reps N      timed repetitions per case (default 10), after --warmup N (default 2)
          --check       also compare the backend's all-reduce, broadcast and uneven all-gather with the
                        tcp backend's on the same inputs (fails the command when they differ)
          --out FILE    JSON result (default bench/results/distributed.json)
        """,
        ["check", "worker"], Run);

    private static int Run(CliArgs args)
    {
        var backend = args.Option("backend") ?? "tcp";
        if (backend is not ("tcp" or "nccl")) throw new CliUsageException($"--backend must be tcp or nccl, got '{backend}'");
        var sizesMb = List(args.Option("sizes") ?? "1,10,100", "sizes");
        // every rank of a world holds its buffers in this host's memory
        if (sizesMb.FirstOrDefault(mb => mb > MaxSizeMb) is > 0 and var tooLarge)
            throw new CliUsageException($"--sizes: {tooLarge} MB is more than the {MaxSizeMb} MB a case may take");
        var sizes = sizesMb.Select(mb => (long)(mb * MB) / 4 * 4).ToArray();
        int reps = args.Int("reps", 10), warmup = args.Int("warmup", 2);
        var check = args.Flag("check");
        if (args.Flag("worker"))
        {
            var resultFile = args.Require("result");
            args.EnsureAllUsed();
            return BenchCollectivesWorker.Run(backend, sizes, warmup, reps, check, resultFile);
        }
        var worldsText = args.Option("worlds");
        var outFile = args.Option("out") ?? Path.Combine("bench", "results", "distributed.json");
        args.EnsureAllUsed();
        args.EnsureNoPositionals();
        if (reps < 1 || warmup < 0) throw new CliUsageException("--reps must be at least 1 and --warmup at least 0");
        var worlds = worldsText is not null
            ? List(worldsText, "worlds").Select(w => w <= MaxWorld ? (int)w
                : throw new CliUsageException($"--worlds: at most {MaxWorld} ranks (one process each) on this host, got {w}")).ToArray()
            : backend == "nccl" ? DefaultNcclWorlds() : [2, 4];
        if (worlds.Any(w => w < 1 || (backend == "tcp" && w < 2))) throw new CliUsageException("--worlds: the tcp ring needs at least 2 ranks, nccl at least 1");

        var streams = new List<double> { LoopbackStream.Measure() };
        var cases = new JsonArray();
        var checks = new JsonArray();
        string? ncclVersion = null;
        var failed = false;
        Console.WriteLine($"{"backend",-8} {"world",5} {"MB",7} {"median ms",10} {"algbw GB/s",11} {"busbw GB/s",11} {"ratio",7}");
        foreach (var world in worlds)
        {
            var run = RunRanks(backend, world, sizes, warmup, reps, check);
            streams.Add(LoopbackStream.Measure()); // between worlds too: the bound is measured around the cases it bounds
            ncclVersion ??= run["nccl_version"]?.GetValue<string>();
            foreach (var c in run["cases"]!.AsArray())
            {
                var bytes = c!["bytes"]!.GetValue<long>();
                var times = c["times_s"]!.AsArray().Select(t => t!.GetValue<double>()).Order().ToArray();
                var median = Median(times);
                var algbw = bytes / median / GB;
                var busbw = algbw * 2 * (world - 1) / world;
                var entry = new JsonObject
                {
                    ["backend"] = backend,
                    ["world"] = world,
                    ["megabytes"] = bytes / MB,
                    ["reps"] = times.Length,
                    ["median_s"] = Math.Round(median, 6),
                    ["min_s"] = Math.Round(times[0], 6),
                    ["algbw_gbps"] = Math.Round(algbw, 4),
                    ["busbw_gbps"] = Math.Round(busbw, 4),
                };
                cases.Add(entry);
            }
            if (run["check"] is JsonObject verdict)
            {
                verdict["world"] = world;
                checks.Add(verdict.DeepClone());
                if (verdict["pass"]?.GetValue<bool>() != true) failed = true;
            }
        }
        var stream = Median([.. streams.Order()]);
        foreach (var entry in cases.Select(c => c!.AsObject()))
        {
            var busbw = entry["busbw_gbps"]!.GetValue<double>();
            var ratio = backend == "tcp" ? Math.Round(busbw / stream, 4) : (double?)null;
            entry["ratio"] = ratio;
            entry["pass"] = ratio is null ? null : ratio >= Goal;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{backend,-8} {entry["world"],5} {entry["megabytes"],7} {entry["median_s"]!.GetValue<double>() * 1000,10:F2} {entry["algbw_gbps"],11} {busbw,11:F3} {(ratio is { } q ? q.ToString("F3", CultureInfo.InvariantCulture) : "-"),7}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"loopback TCP stream: {stream:F3} GB/s (median of {streams.Count}: {string.Join(", ", streams.Select(s => s.ToString("F3", CultureInfo.InvariantCulture)))})"));
        var result = new JsonObject
        {
            ["benchmark"] = "collectives-allreduce-bus-bandwidth",
            ["command"] = "fastreid bench collectives " + string.Join(" ", Environment.GetCommandLineArgs().Skip(3)),
            ["backend"] = backend,
            ["units"] = "GB/s = 1e9 bytes/s; MB = 1e6 bytes; busbw = bytes x 2(W-1)/W / median time",
            ["segment_bytes"] = new CollectiveOptions().SegmentBytes,
            ["stream_gbps"] = Math.Round(stream, 4),
            ["stream_samples_gbps"] = new JsonArray([.. streams.Select(s => (JsonNode)Math.Round(s, 4))]),
            ["stream_method"] = "one loopback TCP connection in this process, one sender and one receiver thread, 4 MiB writes, about 1 s",
            ["goal_ratio"] = backend == "tcp" ? Goal : null,
            ["all_pass"] = backend == "tcp" ? cases.All(c => c!["pass"]!.GetValue<bool>()) : null,
            ["cases"] = cases,
            ["machine"] = new JsonObject
            {
                ["cores"] = Environment.ProcessorCount,
                ["os"] = RuntimeInformation.OSDescription,
                ["runtime"] = RuntimeInformation.FrameworkDescription,
                ["date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            },
        };
        if (ncclVersion is not null) result["nccl_version"] = ncclVersion;
        if (check) result["checks"] = checks;
        AtomicFile.WriteAllText(outFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"wrote {outFile}");
        if (failed)
        {
            Console.Error.WriteLine($"fastreid bench collectives: the {backend} results differ from the tcp backend's: see 'checks' in {outFile}");
            return 1;
        }
        return 0;
    }

    private static int[] DefaultNcclWorlds()
    {
        var gpus = TorchSharp.torch.cuda.is_available() ? TorchSharp.torch.cuda.device_count() : 0;
        if (gpus == 0) throw new UnsupportedSettingException("bench collectives --backend nccl needs a CUDA build of the trainer and a visible GPU");
        return gpus == 1 ? [1] : [1, gpus];
    }

    private static double[] List(string text, string option) =>
        [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
            double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
                : throw new CliUsageException($"--{option} takes positive numbers separated by commas, got '{s}'"))];

    private static double Median(double[] sorted) => sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;

    /// <summary>
    /// Starts <paramref name="world"/> workers of this very binary and waits for them; one that fails takes the
    /// others down (they would wait for it until their timeout), and the error says which rank and why.
    /// </summary>
    private static JsonObject RunRanks(string backend, int world, long[] sizes, int warmup, int reps, bool check)
    {
        var port = FreePortPair();
        var resultFile = Path.Combine(Path.GetTempPath(), $"fastreid-bench-collectives-{Environment.ProcessId}-{world}.json");
        var (program, prefix) = SelfCommand();
        var processes = new List<Process>();
        try
        {
            for (var rank = 0; rank < world; rank++)
            {
                var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
                foreach (var a in prefix) info.ArgumentList.Add(a);
                foreach (var a in new[] { "bench", "collectives", "--worker", "--backend", backend, "--result", resultFile, "--reps", $"{reps}", "--warmup", $"{warmup}",
                    "--sizes", string.Join(",", sizes.Select(s => (s / MB).ToString("R", CultureInfo.InvariantCulture))) })
                    info.ArgumentList.Add(a);
                if (check) info.ArgumentList.Add("--check");
                info.Environment["WORLD_SIZE"] = $"{world}";
                info.Environment["RANK"] = $"{rank}";
                info.Environment["LOCAL_RANK"] = $"{rank}";
                info.Environment["MASTER_ADDR"] = "127.0.0.1";
                info.Environment["MASTER_PORT"] = $"{port}";
                if (!info.Environment.ContainsKey(CollectiveOptions.TimeoutVariable)) info.Environment[CollectiveOptions.TimeoutVariable] = "120";
                foreach (var v in new[] { "NNODES", "NODE_RANK", "NPROC_PER_NODE" }) info.Environment.Remove(v);
                var p = Process.Start(info) ?? throw new FastReidException("cannot start a benchmark rank");
                processes.Add(p);
            }
            var errors = processes.Select(p => p.StandardError.ReadToEndAsync()).ToArray();
            var outputs = processes.Select(p => p.StandardOutput.ReadToEndAsync()).ToArray();
            var deadline = Stopwatch.StartNew();
            while (processes.Any(p => !p.HasExited))
            {
                if (processes.FirstOrDefault(p => p.HasExited && p.ExitCode != 0) is { } dead)
                {
                    KillAll(processes);
                    var rank = processes.IndexOf(dead);
                    throw new FastReidException($"benchmark rank {rank} of {world} exited with {dead.ExitCode}: {errors[rank].Result.Trim()}");
                }
                if (deadline.Elapsed > TimeSpan.FromMinutes(10))
                {
                    KillAll(processes);
                    throw new FastReidException($"the benchmark ranks of world size {world} did not finish within 10 minutes");
                }
                Thread.Sleep(20);
            }
            for (var rank = 0; rank < world; rank++)
            {
                if (processes[rank].ExitCode != 0)
                    throw new FastReidException($"benchmark rank {rank} of {world} exited with {processes[rank].ExitCode}: {errors[rank].Result.Trim()} {outputs[rank].Result.Trim()}");
            }
            return JsonNode.Parse(File.ReadAllText(resultFile))!.AsObject();
        }
        finally
        {
            KillAll(processes);
            foreach (var p in processes) p.Dispose();
            File.Delete(resultFile);
        }
    }

    private static void KillAll(List<Process> processes)
    {
        foreach (var p in processes)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
        }
    }

    /// <summary>How to start this binary again: the apphost itself, or <c>dotnet fastreid.dll</c>.</summary>
    private static (string Program, string[] Prefix) SelfCommand()
    {
        var path = Environment.ProcessPath ?? throw new FastReidException("cannot tell which program this is, to start the benchmark ranks");
        return Path.GetFileNameWithoutExtension(path) == "dotnet" ? (path, [typeof(BenchCollectivesCommand).Assembly.Location]) : (path, []);
    }

    /// <summary>A free port whose successor is free too: the ranks meet at the first, the check's tcp reference at the second.</summary>
    private static int FreePortPair()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var first = new TcpListener(IPAddress.Loopback, 0);
            first.Start();
            var port = ((IPEndPoint)first.LocalEndpoint).Port;
            if (port == 65535) continue;
            try
            {
                using var second = new TcpListener(IPAddress.Loopback, port + 1);
                second.Start();
                return port;
            }
            catch (SocketException) { }
        }
        throw new FastReidException("found no two consecutive free TCP ports on 127.0.0.1");
    }
}

/// <summary>The bandwidth of one loopback TCP connection: what one ring link can carry on this machine.</summary>
internal static class LoopbackStream
{
    public static double Measure(double seconds = 1.0, int writeBytes = 4 << 20)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        long received = 0;
        double elapsed = 0;
        var receiver = new Thread(() =>
        {
            using var s = listener.Accept();
            var buffer = new byte[writeBytes];
            var first = s.Receive(buffer);
            var watch = Stopwatch.StartNew(); // from the first byte, so connection setup is not counted
            int n;
            while ((n = s.Receive(buffer)) > 0) received += n;
            elapsed = watch.Elapsed.TotalSeconds;
            _ = first;
        }) { IsBackground = true };
        receiver.Start();
        using (var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true })
        {
            sender.Connect(listener.LocalEndPoint!);
            var data = new byte[writeBytes];
            Random.Shared.NextBytes(data);
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed.TotalSeconds < seconds) sender.Send(data);
            sender.Shutdown(SocketShutdown.Send);
            receiver.Join();
        }
        return received / elapsed / 1e9;
    }
}
