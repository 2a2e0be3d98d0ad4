using FastReid.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Everything a run sets up before training: the output folder (checked writable), the seed, the
/// device, the log file, the optional Prometheus endpoint, and the data-parallel environment.
/// </summary>
public sealed class RunContext : IDisposable
{
    private readonly StreamWriter _log;

    public string OutputDir { get; }
    public int Seed { get; }
    public Device Device { get; }
    public ProgressReporter Progress { get; }
    public TrainingMetrics Metrics { get; }
    public DistributedEnv Distributed { get; }

    private RunContext(string outputDir, int seed, Device device, StreamWriter log, ProgressReporter progress, TrainingMetrics metrics, DistributedEnv distributed)
    {
        OutputDir = outputDir;
        Seed = seed;
        Device = device;
        _log = log;
        Progress = progress;
        Metrics = metrics;
        Distributed = distributed;
    }

    public static RunContext Create(FastReidConfig cfg, TextWriter output, bool interactive, int? metricsPort)
    {
        var distributed = DistributedEnv.FromEnvironment();
        var outputDir = PrepareOutputDir(cfg.String("OUTPUT_DIR"));
        StreamWriter log;
        try { log = new StreamWriter(Path.Combine(outputDir, "log.txt"), append: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FastReidException($"OUTPUT_DIR '{outputDir}' is not writable: {e.Message}", e);
        }
        var progress = new ProgressReporter(output, interactive, log);

        int seed = cfg.Int("SEED");
        if (seed < 0)
        {
            seed = Random.Shared.Next(0, int.MaxValue);
            progress.Line($"SEED is -1: using seed {seed} (set SEED to repeat this run)");
        }
        torch.manual_seed(seed + distributed.Rank);
        torch.random.manual_seed(seed + distributed.Rank);

        var device = ChooseDevice(cfg, progress);
        if (cfg.Bool("SOLVER.AMP.ENABLED") && device.type != DeviceType.CUDA)
            progress.Line("SOLVER.AMP.ENABLED: mixed precision applies on CUDA only; training in float32 on the CPU");
        var metrics = metricsPort is { } port ? TrainingMetrics.Serve(port, progress) : TrainingMetrics.Disabled();
        return new RunContext(outputDir, seed, device, log, progress, metrics, distributed);
    }

    /// <summary>Data-parallel training averages gradients across ranks here, right after backward.</summary>
    public void SynchronizeGradients(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        if (Distributed.WorldSize == 1) return;
        throw new FastReidException("WORLD_SIZE > 1: multi-process data-parallel training needs a collective backend, which this build does not have yet");
    }

    private static string PrepareOutputDir(string dir)
    {
        if (dir.StartsWith("s3://", StringComparison.Ordinal))
            throw new FastReidException($"OUTPUT_DIR '{dir}': s3:// outputs are not supported by this build yet; use a local folder");
        var full = Path.GetFullPath(string.IsNullOrWhiteSpace(dir) ? "logs" : dir);
        try
        {
            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FastReidException($"OUTPUT_DIR '{full}' is not writable: {e.Message}", e);
        }
        return full;
    }

    private static Device ChooseDevice(FastReidConfig cfg, ProgressReporter progress)
    {
        var wanted = cfg.String("MODEL.DEVICE");
        if (wanted == "cuda")
        {
            if (torch.cuda.is_available()) return new Device(DeviceType.CUDA, DistributedEnv.FromEnvironment().LocalRank);
            progress.Line("MODEL.DEVICE is cuda but no CUDA device is visible (this is a CPU build or there is no GPU): training on the CPU");
        }
        return CPU;
    }

    public void Dispose()
    {
        Metrics.Dispose();
        _log.Dispose();
    }
}

/// <summary>The PyTorch-style distributed environment (WORLD_SIZE, RANK, LOCAL_RANK, ...), single process by default.</summary>
public sealed record DistributedEnv(int WorldSize, int Rank, int LocalRank)
{
    public static DistributedEnv FromEnvironment()
    {
        static int Read(string name, int fallback)
        {
            var v = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(v)) return fallback;
            return int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0
                ? n : throw new FastReidException($"environment variable {name}='{v}' is not a non-negative integer");
        }
        var env = new DistributedEnv(Math.Max(1, Read("WORLD_SIZE", 1)), Read("RANK", 0), Read("LOCAL_RANK", 0));
        if (env.Rank >= env.WorldSize) throw new FastReidException($"RANK {env.Rank} is not below WORLD_SIZE {env.WorldSize}");
        return env;
    }
}
