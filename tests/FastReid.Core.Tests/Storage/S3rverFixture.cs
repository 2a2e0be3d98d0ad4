using System.Diagnostics;
using System.Text.RegularExpressions;
using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

/// <summary>
/// A real s3rver (installed by tests/s3rver/install.sh into .tools/s3rver) on a free loopback port with
/// a temporary data directory, started once for the storage test collection and stopped afterwards.
/// </summary>
public sealed partial class S3rverFixture : IAsyncLifetime
{
    // s3rver's fixed credentials.
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private Process? _process;
    private string? _dataDirectory;
    private int _bucketCounter;

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>A key pair the server accepts besides its fixed one (set before <see cref="InitializeAsync"/>).</summary>
    public (string AccessKey, string SecretKey)? ExtraCredentials { get; init; }

    public int Port => Endpoint.Port;

    public S3Settings Settings => new(AccessKey, SecretKey, Endpoint, "us-east-1");

    /// <summary>Settings pointing at another endpoint (a proxy in front of this server).</summary>
    public static S3Settings SettingsFor(Uri endpoint) => new(AccessKey, SecretKey, endpoint, "us-east-1");

    public async Task InitializeAsync()
    {
        var root = RepositoryRoot();
        var installed = Path.Combine(root, ".tools", "s3rver", "node_modules", "s3rver", "package.json");
        if (!File.Exists(installed))
            throw new InvalidOperationException(
                $"s3rver is not installed ({installed} is missing): run tests/s3rver/install.sh (`make test` does it)");
        var launcher = Path.Combine(root, "tests", "s3rver", "launch.js");
        _dataDirectory = Directory.CreateTempSubdirectory("fastreid-s3rver-").FullName;
        var start = new ProcessStartInfo(File.Exists("/usr/bin/node") ? "/usr/bin/node" : "node")
        {
            // The launcher exits when this pipe closes, so the server dies with the test process.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { launcher, _dataDirectory })
            start.ArgumentList.Add(arg);
        if (ExtraCredentials is var (id, secret)) start.Environment["S3RVER_EXTRA_KEY"] = $"{id}:{secret}";
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        var stderr = _process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var line = await _process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null)
                throw new InvalidOperationException($"s3rver exited before listening: {await stderr}");
            if (ListeningPattern().Match(line) is { Success: true } m)
            {
                Endpoint = new Uri($"http://127.0.0.1:{m.Groups[1].Value}");
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        _ = _process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
    }

    /// <summary>A fresh bucket for one test, so tests never see each other's objects.</summary>
    public async Task<string> CreateBucketAsync(string hint)
    {
        var name = $"t{Interlocked.Increment(ref _bucketCounter)}-{new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40).ToArray())}";
        using var storage = new S3Storage(StorageUri.Parse($"s3://{name}"), Settings);
        await storage.EnsureBucketAsync();
        return name;
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.StandardInput.Close();
            if (_process.WaitForExit(5_000)) return Cleanup();
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        return Cleanup();
    }

    private Task Cleanup()
    {
        _process?.Dispose();
        if (_dataDirectory is not null && Directory.Exists(_dataDirectory))
            Directory.Delete(_dataDirectory, recursive: true);
        return Task.CompletedTask;
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastReid.K8s.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository root (FastReid.K8s.sln) above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"S3rver listening on [^:]+:(\d+)")]
    private static partial Regex ListeningPattern();
}

[CollectionDefinition(Name)]
public sealed class S3rverCollection : ICollectionFixture<S3rverFixture>
{
    public const string Name = "s3rver";
}
