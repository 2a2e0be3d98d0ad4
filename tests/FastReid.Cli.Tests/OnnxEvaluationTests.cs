using System.Security.Cryptography;
using System.Text.Json;
using FastReid.Core.Tests.Storage;
using FastReid.Storage;

namespace FastReid.Cli.Tests;

/// <summary>A tiny model trained one epoch on the tiny synthetic set, shared by the tests that export it.</summary>
public sealed class TrainedTinyModel : IDisposable
{
    public TinyDataset Data { get; } = new();
    public string Run { get; }
    public string Config => Path.Combine(Run, "config.yaml");
    public string Weights => Path.Combine(Run, "model_final.pth");

    public TrainedTinyModel()
    {
        Run = Path.Combine(Data.Root, "..", Path.GetFileName(Data.Root) + "-run");
        var (code, stdout, stderr) = CliRunner.Run(Data.Env, "train", "--config", Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml"),
            "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25",
            "MODEL.BACKBONE.FEAT_DIM", "128", "SOLVER.MAX_EPOCH", "1", "TEST.EVAL_PERIOD", "5", "SOLVER.WARMUP_ITERS", "2", "INPUT.PADDING.SIZE", "2",
            "OUTPUT_DIR", Run);
        if (code != 0) throw new InvalidOperationException("training the tiny model failed: " + stderr + stdout);
    }

    public void Dispose()
    {
        Directory.Delete(Run, recursive: true);
        Data.Dispose();
    }
}

/// <summary>
/// Evaluating an exported model on a dataset (TorchSharp vs onnxruntime, same data and settings), and
/// exporting from and to S3 (s3rver) as the ExportJob's pod does.
/// </summary>
public sealed partial class OnnxEvaluationTests(TrainedTinyModel model) : IClassFixture<TrainedTinyModel>, IAsyncLifetime
{
    private readonly S3rverFixture _s3 = new();
    private readonly string _tmp = Directory.CreateTempSubdirectory("cli-onnx-eval-").FullName;

    public Task InitializeAsync() => _s3.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _s3.DisposeAsync();
        Directory.Delete(_tmp, recursive: true);
    }

    private string Export(string output, params string[] more)
    {
        var (code, stdout, stderr) = CliRunner.Run(null, ["export", "--config", model.Config, "--output", output, .. more, "MODEL.WEIGHTS", model.Weights]);
        Assert.True(code == 0, stderr + stdout);
        return Path.Combine(output, "model.onnx");
    }

    private static JsonElement EvaluateJson(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var (code, stdout, stderr) = CliRunner.Run(env, ["evaluate", .. args, "--json"]);
        Assert.True(code == 0, stderr + stdout);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        return JsonDocument.Parse(lines[0]).RootElement.Clone();
    }

    [Fact]
    public void Exported_model_evaluates_on_the_dataset_as_the_trained_model_does()
    {
        var onnx = Export(Path.Combine(_tmp, "export"));
        // with the flip test on, which the ONNX path computes on mirrored pixels of its own
        var torch = EvaluateJson(model.Data.Env, "--config", model.Config, "MODEL.WEIGHTS", model.Weights, "TEST.FLIP.ENABLED", "True");
        var fromConfig = EvaluateJson(model.Data.Env, "--config", model.Config, "--onnx", onnx, "TEST.FLIP.ENABLED", "True");
        string[] flipArg = ["--flip"];
        var alone = EvaluateJson(null, ["--onnx", onnx, "--dataset", "Market1501", "--datasets", model.Data.Root, .. flipArg]);

        Assert.Equal("Market1501", torch.GetProperty("dataset").GetString());
        foreach (var metric in new[] { "mAP", "rank1", "rank5", "mINP" })
        {
            double reference = torch.GetProperty(metric).GetDouble();
            Assert.InRange(reference, 0.0, 1.0);
            // embeddings agree to ~1e-6 relative: metrics only move if two distances tie to that precision
            Assert.True(Math.Abs(fromConfig.GetProperty(metric).GetDouble() - reference) < 1e-4, $"{metric}: onnx {fromConfig.GetProperty(metric)} vs torch {reference}");
            Assert.True(Math.Abs(alone.GetProperty(metric).GetDouble() - reference) < 1e-4, $"{metric}: onnx --dataset {alone.GetProperty(metric)} vs torch {reference}");
        }
        // a different preprocessing must show: the same model fed normalised-looking pixels evaluates differently
        var skewed = EvaluateJson(null, ["--onnx", onnx, "--dataset", "Market1501", "--datasets", model.Data.Root, "--mean", "128,0,0", "--std", "2,1,1", .. flipArg]);
        Assert.NotEqual(torch.GetProperty("mAP").GetDouble(), skewed.GetProperty("mAP").GetDouble());
    }

    [Fact]
    public void Table_output_names_the_dataset_and_the_runtime()
    {
        var onnx = Export(Path.Combine(_tmp, "export-table"), "--batch", "4");
        // a static batch of 4: a last partial batch is padded and the padding's outputs dropped
        var (code, stdout, stderr) = CliRunner.Run(model.Data.Env, "evaluate", "--config", model.Config, "--onnx", onnx);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("Market1501: ", stdout);
        Assert.Contains("(onnxruntime)", stdout);
        Assert.Contains("mAP", stdout);
        Assert.Contains("embedding Market1501 query", stderr);
    }

    [Theory]
    [InlineData(new[] { "--onnx", "m.onnx" }, "--onnx alone needs --dataset NAME")]
    [InlineData(new[] { "--dataset", "Market1501" }, "--dataset needs a model")]
    [InlineData(new[] { "--config", "c.yml", "--dataset", "Market1501" }, "with --config the datasets are DATASETS.TESTS")]
    [InlineData(new[] { "--config", "c.yml", "--metric", "euclidean" }, "--metric does not combine with --config")]
    [InlineData(new[] { "--config", "c.yml", "--mean", "1,2,3" }, "--mean and --std go with --onnx")]
    [InlineData(new[] { "--onnx", "m.onnx", "--dataset", "Market1501", "--query", "q.npz" }, "do not combine with --config, --onnx or --dataset")]
    public void Dataset_mode_usage_errors_are_named(string[] args, string message)
    {
        var (code, _, stderr) = CliRunner.Run(null, ["evaluate", .. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void Missing_onnx_model_and_unknown_dataset_are_named()
    {
        var (code, _, stderr) = CliRunner.Run(null, "evaluate", "--onnx", Path.Combine(_tmp, "none.onnx"), "--dataset", "Market1501", "--datasets", model.Data.Root);
        Assert.Equal(1, code);
        Assert.Contains("none.onnx' does not exist", stderr);
        (code, _, stderr) = CliRunner.Run(null, "evaluate", "--onnx", Path.Combine(_tmp, "none.onnx"), "--dataset", "NoSuchSet", "--datasets", model.Data.Root);
        Assert.Equal(1, code);
        Assert.Contains("unknown dataset 'NoSuchSet'", stderr);
    }

    private Dictionary<string, string> S3Env(string resultFile) => new()
    {
        ["AWS_ACCESS_KEY_ID"] = S3rverFixture.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = S3rverFixture.SecretKey,
        ["AWS_ENDPOINT_URL"] = _s3.Endpoint.ToString(),
        ["AWS_REGION"] = "us-east-1",
        ["FASTREID_RESULT_FILE"] = resultFile,
    };

    /// <summary>A new bucket holding the tiny run's config.yaml and model_final.pth under <paramref name="prefix"/>, as training publishes them.</summary>
    private async Task<string> PublishRunAsync(string prefix)
    {
        var bucket = await _s3.CreateBucketAsync("models");
        using var run = new S3Storage(StorageUri.Parse($"s3://{bucket}/{prefix}"), _s3.Settings);
        await run.PutFileAsync(model.Config, "config.yaml");
        await run.PutFileAsync(model.Weights, "model_final.pth");
        return bucket;
    }

    /// <summary>What an ExportJob pod runs: config and weights from a published run on S3, the export to S3.</summary>
    [Fact]
    public async Task Export_reads_the_run_from_s3_and_publishes_model_and_figures_to_s3()
    {
        var bucket = await PublishRunAsync("exp1");
        var resultFile = Path.Combine(_tmp, "result.json");
        var (code, stdout, stderr) = CliRunner.Run(S3Env(resultFile), "export", "--config", $"s3://{bucket}/exp1/config.yaml",
            "--output", $"s3://{bucket}/exp1/export", "MODEL.WEIGHTS", $"s3://{bucket}/exp1/model_final.pth");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains($"wrote s3://{bucket}/exp1/export/model.onnx", stdout);

        using var result = JsonDocument.Parse(File.ReadAllText(resultFile));
        var root = result.RootElement;
        Assert.Equal("Succeeded", root.GetProperty("status").GetString());
        Assert.Equal($"s3://{bucket}/exp1/export/model.onnx", root.GetProperty("artefacts").GetProperty("export").GetString());
        Assert.Equal($"s3://{bucket}/exp1/export/verify.json", root.GetProperty("artefacts").GetProperty("verify").GetString());
        var verify = root.GetProperty("verify");
        Assert.True(verify.GetProperty("passed").GetBoolean());
        Assert.InRange(verify.GetProperty("max_relative_error").GetDouble(), 0, 1e-4);
        Assert.True(verify.TryGetProperty("max_abs_error", out _));
        Assert.Equal("dynamic", verify.GetProperty("batch").GetString());

        using var exported = new S3Storage(StorageUri.Parse($"s3://{bucket}/exp1/export"), _s3.Settings);
        Assert.Equal(["model.onnx", "verify.json"], (await exported.ListAsync()).Select(o => o.Key));
        var local = Path.Combine(_tmp, "downloaded.onnx");
        await exported.GetFileAsync("model.onnx", local);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(local))), root.GetProperty("sha256").GetProperty("model.onnx").GetString());
        // the downloaded model is the one that was verified: it embeds like the trained model
        var onnxMetrics = EvaluateJson(model.Data.Env, "--config", model.Config, "--onnx", local);
        var torchMetrics = EvaluateJson(model.Data.Env, "--config", model.Config, "MODEL.WEIGHTS", model.Weights);
        Assert.True(Math.Abs(onnxMetrics.GetProperty("mAP").GetDouble() - torchMetrics.GetProperty("mAP").GetDouble()) < 1e-4);
    }

    [Fact]
    public async Task Failed_verification_on_s3_exits_3_keeps_the_figures_and_removes_an_earlier_model()
    {
        var bucket = await _s3.CreateBucketAsync("models");
        using var exported = new S3Storage(StorageUri.Parse($"s3://{bucket}/export"), _s3.Settings);
        var stale = Path.Combine(_tmp, "stale.onnx");
        File.WriteAllText(stale, "an earlier export");
        await exported.PutFileAsync(stale, "model.onnx");
        var resultFile = Path.Combine(_tmp, "failed-result.json");

        var (code, stdout, stderr) = CliRunner.Run(S3Env(resultFile), "export", "--config", model.Config, "--output", $"s3://{bucket}/export",
            "--tolerance", "1e-12", "MODEL.WEIGHTS", model.Weights);
        Assert.True(code == 3, $"exit {code}: {stderr}{stdout}");
        Assert.Contains("ONNX verification failed", stderr);
        Assert.Equal(["verify.json"], (await exported.ListAsync()).Select(o => o.Key));
        Assert.False(File.Exists(resultFile));
    }

    [Fact]
    public void Unreachable_output_bucket_fails_before_the_model_is_built()
    {
        var (code, _, stderr) = CliRunner.Run(S3Env(Path.Combine(_tmp, "r.json")), "export", "--config", model.Config, "--output", "s3://no-such-bucket/x",
            "MODEL.WEIGHTS", model.Weights);
        Assert.Equal(1, code);
        Assert.Contains("no-such-bucket", stderr);
        Assert.DoesNotContain("verify batch", stderr);
    }
}
