using System.Security.Cryptography;
using System.Text;
using FastReid.Config;
using FastReid.Storage;
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

    /// <summary>Local folder the run writes into: OUTPUT_DIR itself, or a staging folder for an s3:// OUTPUT_DIR.</summary>
    public string OutputDir { get; }
    /// <summary>OUTPUT_DIR as configured (a path or s3://bucket/prefix).</summary>
    public string OutputUri { get; }
    /// <summary>Where artefacts and checkpoints are kept (the local folder or the S3 prefix).</summary>
    public IStorage Storage { get; }
    public bool IsRemote => OutputUri.StartsWith("s3://", StringComparison.Ordinal);
    public int Seed { get; private set; }
    /// <summary>True when SEED was -1 and the run picked one; a resumed run then adopts the checkpoint's.</summary>
    public bool SeedWasPicked { get; private init; }
    public Device Device { get; }
    public ProgressReporter Progress { get; }
    public TrainingMetrics Metrics { get; }
    public DistributedEnv Distributed { get; }

    private RunContext(string outputDir, string outputUri, IStorage storage, int seed, Device device, StreamWriter log, ProgressReporter progress, TrainingMetrics metrics, DistributedEnv distributed)
    {
        OutputDir = outputDir;
        OutputUri = outputUri;
        Storage = storage;
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
        // refused before any data is read or output written: a Job must not retry what cannot run
        if (distributed.WorldSize > 1)
            throw new UnsupportedSettingException($"WORLD_SIZE {distributed.WorldSize}: data-parallel training across processes is not in this build yet; run one process (resources.nodes 1, gpusPerNode 0 or 1)");
        var outputUri = cfg.String("OUTPUT_DIR");
        var remote = outputUri.StartsWith("s3://", StringComparison.Ordinal);
        var outputDir = PrepareOutputDir(remote ? StagingDir(outputUri) : outputUri);
        // S3 problems (credentials, bucket) surface here, before any training time is spent
        StreamWriter log;
        try { log = new StreamWriter(Path.Combine(outputDir, "log.txt"), append: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FastReidException($"OUTPUT_DIR '{outputDir}' is not writable: {e.Message}", e);
        }
        var progress = new ProgressReporter(output, interactive, log);
        var storageOptions = new StorageOptions { Log = progress.Line, Retry = RetrySettings.FromEnvironment() };
        var storage = StorageFactory.Open(remote ? outputUri : outputDir, storageOptions);
        if (remote) storage.ListAsync("checkpoints/").GetAwaiter().GetResult();

        int seed = cfg.Int("SEED");
        if (seed < 0)
        {
            seed = Random.Shared.Next(0, int.MaxValue);
            progress.Line($"SEED is -1: using seed {seed} (set SEED to repeat this run)");
        }
        torch.manual_seed(seed + distributed.Rank);
        torch.random.manual_seed(seed + distributed.Rank);

        var device = Devices.Choose(cfg, progress.Line);
        if (cfg.Bool("SOLVER.AMP.ENABLED") && device.type != DeviceType.CUDA)
            progress.Line("SOLVER.AMP.ENABLED: mixed precision applies on CUDA only; training in float32 on the CPU");
        var metrics = metricsPort is { } port ? TrainingMetrics.Serve(port, progress) : TrainingMetrics.Disabled();
        if (remote) progress.Line($"OUTPUT_DIR is {outputUri}: staging in {outputDir}, published with manifest.json at each checkpoint and at the end");
        return new RunContext(outputDir, remote ? outputUri : outputDir, storage, seed, device, log, progress, metrics, distributed)
        {
            SeedWasPicked = cfg.Int("SEED") < 0,
        };
    }

    /// <summary>Adopts the seed of the checkpoint being resumed (only when this run picked its own).</summary>
    internal void AdoptSeed(int seed)
    {
        if (!SeedWasPicked) throw new InvalidOperationException("the seed was configured");
        Seed = seed;
    }

    /// <summary>Data-parallel training averages gradients across ranks here, right after backward.</summary>
    public void SynchronizeGradients(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        if (Distributed.WorldSize == 1) return;
        throw new InvalidOperationException("WORLD_SIZE > 1 is refused when the run starts");
    }

    /// <summary>A local staging folder per S3 output ($FASTREID_WORK_DIR, default the temp folder).</summary>
    private static string StagingDir(string outputUri)
    {
        var root = Environment.GetEnvironmentVariable("FASTREID_WORK_DIR") is { Length: > 0 } w ? w : Path.Combine(Path.GetTempPath(), "fastreid-work");
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(outputUri)))[..16];
        return Path.Combine(root, hash);
    }

    private static string PrepareOutputDir(string dir)
    {
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

    public void Dispose()
    {
        Storage.Dispose();
        Metrics.Dispose();
        _log.Dispose();
    }
}
