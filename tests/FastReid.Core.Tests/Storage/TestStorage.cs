using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

/// <summary>Opens the same kind of storage each behaviour test runs against: a fresh s3rver bucket or a fresh local folder.</summary>
public sealed class TestStorage : IDisposable
{
    public const string S3 = "s3";
    public const string Local = "local";

    public static readonly RetrySettings FastRetry = new()
    {
        MaxRetries = 10,
        BaseDelay = TimeSpan.FromMilliseconds(10),
        MaxDelay = TimeSpan.FromMilliseconds(200),
        AttemptTimeout = TimeSpan.FromSeconds(10),
    };

    private TestStorage(IStorage storage, string scratch, StorageOptions options, List<string> log)
    {
        Storage = storage;
        Scratch = scratch;
        Options = options;
        _log = log;
    }

    private readonly List<string> _log;

    public IStorage Storage { get; }

    /// <summary>A local folder for the test's own files (sources, downloads), removed afterwards.</summary>
    public string Scratch { get; }

    public StorageOptions Options { get; }

    /// <summary>Lines the storage logged (retries, skipped checkpoints).</summary>
    public IReadOnlyList<string> Log
    {
        get { lock (_log) return _log.ToList(); }
    }

    public void Note(string line)
    {
        lock (_log) _log.Add(line);
    }

    public static async Task<TestStorage> OpenAsync(string backend, S3rverFixture s3, string test, Uri? endpoint = null,
        RetrySettings? retry = null, string prefix = "out/run-1")
    {
        var scratch = Directory.CreateTempSubdirectory("fastreid-storage-test-").FullName;
        var log = new List<string>();
        string uri;
        S3Settings? settings = null;
        if (backend == S3)
        {
            var bucket = await s3.CreateBucketAsync(test);
            uri = $"s3://{bucket}/{prefix}";
            settings = S3rverFixture.SettingsFor(endpoint ?? s3.Endpoint);
        }
        else
        {
            uri = Path.Combine(scratch, "store", prefix);
        }
        var options = new StorageOptions { S3 = settings, Retry = retry ?? FastRetry, Log = line => { lock (log) log.Add(line); } };
        return new TestStorage(StorageFactory.Open(uri, options), scratch, options, log);
    }

    public string WriteFile(string name, byte[] content)
    {
        var path = Path.Combine(Scratch, "src", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public void Dispose()
    {
        Storage.Dispose();
        if (Directory.Exists(Scratch)) Directory.Delete(Scratch, recursive: true);
    }
}
