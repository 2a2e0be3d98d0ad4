using System.Security.Cryptography;
using System.Text;
using FastReid.Config;
using FastReid.Distributed;
using FastReid.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Everything a run sets up before training: the output folder (checked writable), the seed, the
/// device, the log file, the optional Prometheus endpoint, and the data-parallel environment with its
/// collectives.
/// <para>
/// Data-parallel runs: rank 0 alone writes OUTPUT_DIR (log, checkpoints, artefacts, manifest, result) and
/// serves metrics; every other rank works in a private scratch folder, deleted at the end, and prints
/// nothing (its errors still reach stderr). All ranks share the seed: the initial weights are broadcast from
/// rank 0 anyway, and augmentation is seeded per sample of the global batch, so the split does not change it.
/// </para>
/// </summary>
public sealed class RunContext : IDisposable
{
    private readonly TextWriter _log;

    /// <summary>Local folder the run writes into: OUTPUT_DIR itself, or a staging folder for an s3:// OUTPUT_DIR.</summary>
    public string OutputDir { get; }
    /// <summary>OUTPUT_DIR as configured (a path or s3://bucket/prefix).</summary>
    public string OutputUri { get; }
    /// <summary>Where artefacts and checkpoints are kept (the local folder or the S3 prefix).</summary>
    public IStorage Storage { get; }
    public bool IsRemote => OutputUri.StartsWith("s3://", StringComparison.Ordinal);
    /// <summary>
    /// The run this process belongs to ($FASTREID_RUN_ID; the operator sets its run's name, which changes with the
    /// spec), recorded in checkpoints: a resume takes only checkpoints of the same run. Null when unset.
    /// </summary>
    public string? RunId { get; private init; }
    public int Seed { get; private set; }
    /// <summary>True when SEED was -1 and the run picked one; a resumed run then adopts the checkpoint's.</summary>
    public bool SeedWasPicked { get; private init; }
    public Device Device { get; }
    public ProgressReporter Progress { get; }
    public TrainingMetrics Metrics { get; }
    public DistributedEnv Distributed { get; }
    /// <summary>The ranks' collectives (a world of one when not distributed).</summary>
    public ICollectives Collectives { get; }
    /// <summary>Rank 0: the one that writes and reports.</summary>
    public bool IsMain => Distributed.IsMain;
    private string? _scratch;

    private RunContext(string outputDir, string outputUri, IStorage storage, int seed, Device device, TextWriter log, ProgressReporter progress,
        TrainingMetrics metrics, DistributedEnv distributed, ICollectives collectives)
    {
        Collectives = collectives;
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

    /// <summary>Environment variable that picks the collectives backend (default: nccl on CUDA, tcp on the CPU).</summary>
    public const string BackendVariable = "FASTREID_DIST_BACKEND";

    /// <summary>Environment variable that names the run (<see cref="RunId"/>).</summary>
    public const string RunIdVariable = "FASTREID_RUN_ID";

    public static RunContext Create(FastReidConfig cfg, TextWriter output, bool interactive, int? metricsPort)
    {
        var distributed = DistributedEnv.FromEnvironment();
        // nothing is set up (no rendezvous, output, dataset sync) for a config that cannot run
        ConfigPreflight.ForTraining(cfg, distributed.WorldSize);
        var warnings = new List<string>();
        var device = Devices.Choose(cfg, warnings.Add);
        // the ranks meet before anything is read or written: a rank that fails later closes its connections,
        // and the others stop within seconds instead of waiting for it
        ICollectives collectives = distributed.IsDistributed
            ? FastReid.Distributed.Collectives.FromEnvironment(Environment.GetEnvironmentVariable(BackendVariable) is { Length: > 0 } b ? b
                : device.type == DeviceType.CUDA ? "nccl" : "tcp")
            : new SingleProcessCollectives();
        try
        {
            var run = Create(cfg, output, interactive, metricsPort, distributed, device, collectives);
            foreach (var w in warnings) run.Progress.Line(w);
            return run;
        }
        catch
        {
            collectives.Dispose();
            throw;
        }
    }

    private static RunContext Create(FastReidConfig cfg, TextWriter output, bool interactive, int? metricsPort, DistributedEnv distributed, Device device,
        ICollectives collectives)
    {
        var outputUri = cfg.String("OUTPUT_DIR");
        var remote = outputUri.StartsWith("s3://", StringComparison.Ordinal) && distributed.IsMain;
        string? scratch = distributed.IsMain ? null : Directory.CreateTempSubdirectory($"fastreid-rank{distributed.Rank}-").FullName;
        if (!distributed.IsMain) output = TextWriter.Null;
        var outputDir = scratch ?? PrepareOutputDir(remote ? StagingDir(outputUri) : outputUri);
        // S3 problems (credentials, bucket) surface here, before any training time is spent
        TextWriter log;
        try { log = new RedactingWriter(new StreamWriter(Path.Combine(outputDir, "log.txt"), append: true), Redactor.ForProcess()); }
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
            // one seed for all ranks: rank 0's
            var picked = BitConverter.GetBytes(Random.Shared.Next(0, int.MaxValue));
            seed = BitConverter.ToInt32(DistributedState.BytesFromRankZero(distributed.IsMain ? picked : null, collectives)!);
            progress.Line($"SEED is -1: using seed {seed} (set SEED to repeat this run)");
        }
        torch.manual_seed(seed);
        torch.random.manual_seed(seed);
        if (distributed.ProcsPerNode > 1 && device.type == DeviceType.CPU && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS")))
        {
            // as torchrun does: ranks sharing a host's cores must not each start a thread per core (spinning
            // OpenMP threads oversubscribed run several times slower); OMP_NUM_THREADS overrides
            int threads = Math.Max(1, Environment.ProcessorCount / distributed.ProcsPerNode);
            torch.set_num_threads(threads);
            progress.Line($"{distributed.ProcsPerNode} ranks share this host's {Environment.ProcessorCount} cores: {threads} torch thread(s) each (set OMP_NUM_THREADS to change)");
        }

        if (cfg.Bool("SOLVER.AMP.ENABLED") && device.type != DeviceType.CUDA)
            progress.Line("SOLVER.AMP.ENABLED: mixed precision applies on CUDA only; training in float32 on the CPU");
        var metrics = metricsPort is { } port && distributed.IsMain ? TrainingMetrics.Serve(port, progress) : TrainingMetrics.Disabled();
        if (remote) progress.Line($"OUTPUT_DIR is {outputUri}: staging in {outputDir}, published with manifest.json at each checkpoint and at the end");
        if (distributed.IsDistributed)
            progress.Line($"data-parallel: {distributed.WorldSize} ranks ({distributed.Nodes} node(s) x {distributed.ProcsPerNode}), {collectives.GetType().Name.Replace("Collectives", "").ToLowerInvariant()} collectives");
        return new RunContext(outputDir, remote ? outputUri : outputDir, storage, seed, device, log, progress, metrics, distributed, collectives)
        {
            SeedWasPicked = cfg.Int("SEED") < 0,
            RunId = Environment.GetEnvironmentVariable(RunIdVariable) is { Length: > 0 } id ? id : null,
            _scratch = scratch,
        };
    }

    /// <summary>Adopts the seed of the checkpoint being resumed (only when this run picked its own).</summary>
    internal void AdoptSeed(int seed)
    {
        if (!SeedWasPicked) throw new InvalidOperationException("the seed was configured");
        Seed = seed;
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
        Collectives.Dispose();
        if (_scratch is not null) Directory.Delete(_scratch, recursive: true);
    }
}
