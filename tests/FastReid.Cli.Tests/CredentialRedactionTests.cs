using FastReid.Core.Tests.Storage;
using FastReid.Storage;

namespace FastReid.Cli.Tests;

/// <summary>
/// Credentials never leave a run in clear: with user:password in AWS_ENDPOINT_URL and a secret key and session
/// token of their own, neither a training run against s3rver nor a run that fails on a missing bucket (its error
/// names the endpoint) prints them, and no file the runs write (log, metrics, result, config, manifest, staged or
/// published) holds them.
/// </summary>
public sealed class CredentialRedactionTests(TinyDataset data) : IClassFixture<TinyDataset>, IAsyncLifetime
{
    private const string AccessKey = "redaction-test-key";
    private const string SecretKey = "sk-4f1c9e27-never-printed";
    private const string SessionToken = "st-77d0a3b8-never-printed";
    private const string EndpointPassword = "pw-91be5c03-never-printed";
    private static readonly string[] Secrets = [SecretKey, SessionToken, EndpointPassword];

    private readonly S3rverFixture _s3 = new() { ExtraCredentials = (AccessKey, SecretKey) };
    private readonly string _tmp = Directory.CreateTempSubdirectory("cli-redaction-").FullName;
    private string _dataBucket = "";

    public async Task InitializeAsync()
    {
        await _s3.InitializeAsync();
        _dataBucket = await S3TrainingTests.UploadDatasetAsync(_s3, data);
    }

    public async Task DisposeAsync()
    {
        await _s3.DisposeAsync();
        Directory.Delete(_tmp, recursive: true);
    }

    private Dictionary<string, string> Env() => new()
    {
        ["FASTREID_DATASETS"] = $"s3://{_dataBucket}/synthetic",
        ["FASTREID_CACHE"] = Path.Combine(_tmp, "cache"),
        ["FASTREID_WORK_DIR"] = Path.Combine(_tmp, "work"),
        ["AWS_ACCESS_KEY_ID"] = AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
        ["AWS_SESSION_TOKEN"] = SessionToken,
        ["AWS_ENDPOINT_URL"] = $"http://alice:{EndpointPassword}@127.0.0.1:{_s3.Port}",
        ["AWS_REGION"] = "us-east-1",
    };

    [Fact]
    public async Task Neither_a_training_run_nor_a_failing_one_prints_or_writes_a_credential()
    {
        var bucket = await _s3.CreateBucketAsync("models");
        var trained = CliRunner.Run(Env(), TrainCommandTests.Tiny($"s3://{bucket}/exp", "SOLVER.MAX_EPOCH", "1"));
        Assert.True(trained.Code == 0, trained.Err + trained.Out);
        // the endpoint is named in this error (the bucket is missing there): it must be named without its password
        var failed = CliRunner.Run(Env(), TrainCommandTests.Tiny("s3://no-such-bucket-here/exp", "SOLVER.MAX_EPOCH", "1"));
        Assert.True(failed.Code != 0, failed.Out);
        Assert.Contains("does not exist at http://***@127.0.0.1", failed.Err);

        var printed = new[] { ("training stdout", trained.Out), ("training stderr", trained.Err), ("failed stdout", failed.Out), ("failed stderr", failed.Err) };
        var published = new List<(string, string)>();
        using (var storage = new S3Storage(StorageUri.Parse($"s3://{bucket}/exp"), _s3.Settings))
        {
            foreach (var o in await storage.ListAsync(""))
                if (!o.Key.EndsWith(".pth", StringComparison.Ordinal) && !o.Key.EndsWith(".pt", StringComparison.Ordinal))
                    published.Add(($"s3://{bucket}/exp/{o.Key}", await StorageText.TryReadAsync(storage, o.Key) ?? ""));
        }
        Assert.Contains(published, p => p.Item1.EndsWith("/log.txt", StringComparison.Ordinal) || p.Item1.EndsWith("/metrics.json", StringComparison.Ordinal));
        var written = Directory.GetFiles(_tmp, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".pth", StringComparison.Ordinal) && !f.EndsWith(".jpg", StringComparison.Ordinal))
            .Select(f => (f, File.ReadAllText(f))).ToList();
        Assert.Contains(written, w => w.f.EndsWith("log.txt", StringComparison.Ordinal));
        Assert.Contains(written, w => w.f.EndsWith("result.json", StringComparison.Ordinal));

        var leaks = printed.Concat(published).Concat(written)
            .SelectMany(source => source.Item2.Split('\n').Select((line, i) => (source.Item1, Line: i + 1, Text: line)))
            .Where(l => Secrets.Any(s => l.Text.Contains(s, StringComparison.Ordinal)))
            .Select(l => $"{l.Item1}:{l.Line}: {l.Text}").ToList();
        Assert.True(leaks.Count == 0, "credentials in clear:\n" + string.Join("\n", leaks));
    }
}
