using System.Text.Json;
using FastReid.Core.Tests.Storage;
using FastReid.Storage;

namespace FastReid.Cli.Tests;

/// <summary>
/// Training against a real S3 server (s3rver): datasets read from s3:// through the cache, OUTPUT_DIR on
/// s3:// with verifiable artefacts and checkpoints, a flaky network, and SIGKILL + resume.
/// </summary>
public sealed class S3TrainingTests(TinyDataset data) : IClassFixture<TinyDataset>, IAsyncLifetime
{
    private readonly S3rverFixture _s3 = new();
    private readonly string _tmp = Directory.CreateTempSubdirectory("cli-s3-").FullName;
    private string _dataBucket = "";

    public async Task InitializeAsync()
    {
        await _s3.InitializeAsync();
        _dataBucket = await UploadDatasetAsync(_s3, data);
    }

    /// <summary>Copies the tiny dataset into a fresh bucket under synthetic/ (FASTREID_DATASETS s3://bucket/synthetic); returns the bucket.</summary>
    internal static async Task<string> UploadDatasetAsync(S3rverFixture s3, TinyDataset data)
    {
        var bucket = await s3.CreateBucketAsync("datasets");
        using var storage = new S3Storage(StorageUri.Parse($"s3://{bucket}/synthetic"), s3.Settings);
        foreach (var file in Directory.GetFiles(data.Root, "*", SearchOption.AllDirectories))
            await storage.PutFileAsync(file, Path.GetRelativePath(data.Root, file).Replace('\\', '/'));
        return bucket;
    }

    public async Task DisposeAsync()
    {
        await _s3.DisposeAsync();
        Directory.Delete(_tmp, recursive: true);
    }

    private Dictionary<string, string> Env(Uri endpoint, string name) => new()
    {
        ["FASTREID_DATASETS"] = $"s3://{_dataBucket}/synthetic",
        ["FASTREID_CACHE"] = Path.Combine(_tmp, "cache"),
        ["FASTREID_WORK_DIR"] = Path.Combine(_tmp, "work-" + name),
        ["AWS_ACCESS_KEY_ID"] = S3rverFixture.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = S3rverFixture.SecretKey,
        ["AWS_ENDPOINT_URL"] = endpoint.ToString(),
        ["AWS_REGION"] = "us-east-1",
        // the fault proxy can stall a connection without resetting it: give up on such an attempt quickly
        ["FASTREID_S3_ATTEMPT_TIMEOUT"] = "20",
    };

    private static string[] Tiny(string output, params string[] more) =>
    [
        "train", "--config", Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml"),
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "SOLVER.MAX_EPOCH", "2",
        "TEST.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.WARMUP_ITERS", "2", "OUTPUT_DIR", output, .. more,
    ];

    private async Task AssertVerifiableOutput(string bucket, string prefix)
    {
        using var storage = new S3Storage(StorageUri.Parse($"s3://{bucket}/{prefix}"), _s3.Settings);
        var manifest = await ArtifactManifest.ReadAsync(storage);
        Assert.NotNull(manifest);
        var paths = manifest!.Entries.Select(e => e.Path).ToList();
        foreach (var f in new[] { "config.yaml", "model_final.pth", "model_best.pth", "metrics.json" }) Assert.Contains(f, paths);
        // TensorBoard's event file reaches the output as the other artefacts do
        Assert.Contains(paths, p => p.StartsWith(FastReid.Engine.TensorBoardEvents.FilePrefix, StringComparison.Ordinal));
        Assert.Contains(paths, p => p.StartsWith("checkpoints/model_", StringComparison.Ordinal) && p.EndsWith("/model.pth", StringComparison.Ordinal));
        Assert.Empty(await manifest.VerifyAsync(storage));
        var checkpoints = await new CheckpointStore(storage).ListAsync();
        Assert.NotEmpty(checkpoints);
    }

    [Fact]
    public async Task Training_with_data_and_output_on_s3_publishes_verifiable_artefacts()
    {
        var bucket = await _s3.CreateBucketAsync("models");
        var (code, stdout, stderr) = CliRunner.Run(Env(_s3.Endpoint, "plain"), Tiny($"s3://{bucket}/exp1"));
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("syncing into the cache", stdout);
        await AssertVerifiableOutput(bucket, "exp1");
        Assert.DoesNotContain(S3rverFixture.SecretKey + "\n", stdout + stderr);
        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(_tmp, "work-plain", Directory.GetDirectories(Path.Combine(_tmp, "work-plain"))[0], "result.json")));
        Assert.Equal($"s3://{bucket}/exp1/model_final.pth", result.RootElement.GetProperty("artefacts").GetProperty("model").GetString());
    }

    [Fact]
    public async Task Training_through_a_network_failing_a_fifth_of_requests_completes_with_verifiable_checkpoints()
    {
        var bucket = await _s3.CreateBucketAsync("flaky");
        await using var proxy = new FaultProxy(_s3.Port, faultRate: 0.2, maxFaults: 200);
        var (code, stdout, stderr) = CliRunner.Run(Env(proxy.Endpoint, "flaky"), Tiny($"s3://{bucket}/exp"));
        Assert.True(code == 0, stderr + stdout);
        Assert.True(proxy.Faults > 0, "the proxy injected no fault");
        await AssertVerifiableOutput(bucket, "exp");
    }

    [Fact]
    public async Task Sigkilled_run_with_output_on_s3_resumes_to_identical_weights()
    {
        var bucket = await _s3.CreateBucketAsync("resume");
        var envRef = Env(_s3.Endpoint, "reference");
        var (code, stdout, stderr) = CliRunner.Run(envRef, ResumeTests.Args($"s3://{bucket}/reference", resume: false));
        Assert.True(code == 0, stderr + stdout);
        using var storage = new S3Storage(StorageUri.Parse($"s3://{bucket}"), _s3.Settings);
        int Checkpoints() => storage.ListAsync("killed/checkpoints/").GetAwaiter().GetResult().Count(o => o.Key.EndsWith("checkpoint.json", StringComparison.Ordinal));
        var output = ResumeTests.KillThreeTimesThenFinish(Env(_s3.Endpoint, "killed"), $"s3://{bucket}/killed", Checkpoints, flag: true);
        Assert.Contains("resumed from checkpoint", output);
        Assert.Equal(await Sha(storage, "reference/metrics.json"), await Sha(storage, "killed/metrics.json"));
    }

    private async Task<string> Sha(S3Storage storage, string key)
    {
        var local = Path.Combine(_tmp, Guid.NewGuid().ToString("N"));
        await storage.GetFileAsync(key, local);
        return JsonDocument.Parse(File.ReadAllText(local)).RootElement.GetProperty("weights_sha256").GetString()!;
    }
}
