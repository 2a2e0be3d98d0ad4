using Minio;
using Minio.DataModel.Args;
using Minio.Exceptions;
using Polly;

namespace FastReid.Storage;

/// <summary>
/// Objects in an S3 bucket below a prefix, through the Minio SDK (path-style addressing on custom
/// endpoints). Every call is retried on transient faults; uploads above 5 MiB are multipart (the SDK
/// sends 16 MiB parts). Objects appear only when complete, so a crashed upload leaves nothing behind
/// under the key.
/// </summary>
public sealed class S3Storage : IStorage
{
    private readonly IMinioClient _client;
    private readonly ResiliencePipeline _pipeline;
    private readonly StorageOptions _options;
    private readonly S3Settings _settings;

    public S3Storage(StorageUri root, S3Settings settings, StorageOptions? options = null)
    {
        if (!root.IsS3) throw new ArgumentException("S3Storage needs an s3:// location", nameof(root));
        Root = root;
        _settings = settings;
        _options = options ?? new StorageOptions();
        _pipeline = TransientFaults.CreatePipeline(_options.Retry, _options.Log);
        var endpoint = settings.Endpoint;
        var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        });
        var client = new MinioClient()
            .WithEndpoint(endpoint?.Host ?? "s3.amazonaws.com", endpoint?.Port ?? 443)
            .WithSSL(endpoint is null || endpoint.Scheme == Uri.UriSchemeHttps)
            .WithCredentials(settings.AccessKey, settings.SecretKey)
            .WithRegion(settings.Region)
            .WithHttpClient(http, disposeHttpClient: true);
        if (settings.SessionToken is not null) client = client.WithSessionToken(settings.SessionToken);
        _client = client.Build();
    }

    public StorageUri Root { get; }

    private string Bucket => Root.Bucket!;

    private string ObjectName(string key)
    {
        StorageKey.Validate(key, Root.ToString());
        return StorageKey.Join(Root.Prefix, key);
    }

    private string Where(string key) => $"s3://{Bucket}/{StorageKey.Join(Root.Prefix, key)}";

    public async Task PutFileAsync(string localPath, string key, CancellationToken ct = default)
    {
        var name = ObjectName(key);
        if (!File.Exists(localPath))
            throw new FastReidException($"cannot upload '{localPath}' to {Where(key)}: the file does not exist");
        await RunAsync($"upload of '{localPath}' to {Where(key)}", async c =>
        {
            // A fresh stream per attempt: a retry re-reads the file from the start.
            await using var file = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            await _client.PutObjectAsync(new PutObjectArgs()
                .WithBucket(Bucket).WithObject(name)
                .WithStreamData(file).WithObjectSize(file.Length)
                .WithContentType("application/octet-stream"), c).ConfigureAwait(false);
            return true;
        }, key, ct).ConfigureAwait(false);
    }

    public async Task PutStreamAsync(Stream content, string key, CancellationToken ct = default)
    {
        if (!content.CanSeek)
        {
            // Retries must re-read the content: spool it once to a temporary file.
            var spool = Path.Combine(Path.GetTempPath(), $"fastreid-upload{AtomicFile.TempMarker}{Guid.NewGuid():N}");
            try
            {
                await using (var file = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                    await content.CopyToAsync(file, ct).ConfigureAwait(false);
                await PutFileAsync(spool, key, ct).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(spool);
            }
            return;
        }
        var name = ObjectName(key);
        var start = content.Position;
        await RunAsync($"upload to {Where(key)}", async c =>
        {
            content.Position = start;
            await _client.PutObjectAsync(new PutObjectArgs()
                .WithBucket(Bucket).WithObject(name)
                .WithStreamData(content).WithObjectSize(content.Length - start)
                .WithContentType("application/octet-stream"), c).ConfigureAwait(false);
            return true;
        }, key, ct).ConfigureAwait(false);
    }

    public async Task<StorageObject> GetFileAsync(string key, string localPath, CancellationToken ct = default)
    {
        var name = ObjectName(key);
        return await RunAsync($"download of {Where(key)}", async c =>
        {
            StorageObject? result = null;
            await AtomicFile.WriteAsync(localPath, async (file, c2) =>
            {
                var stat = await _client.GetObjectAsync(new GetObjectArgs()
                    .WithBucket(Bucket).WithObject(name)
                    .WithCallbackStream(async (body, c3) => await body.CopyToAsync(file, c3).ConfigureAwait(false)), c2)
                    .ConfigureAwait(false);
                await file.FlushAsync(c2).ConfigureAwait(false);
                // A connection cut mid-body can look like a short success; never rename a short file into place.
                if (file.Length != stat.Size)
                    throw new IOException($"received {file.Length} of {stat.Size} bytes");
                result = new StorageObject(key, stat.Size, NormalizeETag(stat.ETag));
            }, c).ConfigureAwait(false);
            return result!;
        }, key, ct).ConfigureAwait(false);
    }

    public async Task<StorageObject?> StatAsync(string key, CancellationToken ct = default)
    {
        var name = ObjectName(key);
        return await RunAsync($"stat of {Where(key)}", async c =>
        {
            try
            {
                var stat = await _client.StatObjectAsync(new StatObjectArgs().WithBucket(Bucket).WithObject(name), c)
                    .ConfigureAwait(false);
                return new StorageObject(key, stat.Size, NormalizeETag(stat.ETag));
            }
            catch (ObjectNotFoundException)
            {
                return null;
            }
        }, key, ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<StorageObject>> ListAsync(string prefix = "", CancellationToken ct = default)
    {
        LocalStorage.ValidatePrefix(prefix, Root.ToString());
        var full = Root.Prefix.Length == 0 ? prefix : $"{Root.Prefix}/{prefix}";
        var strip = Root.Prefix.Length == 0 ? 0 : Root.Prefix.Length + 1;
        return await RunAsync($"listing of s3://{Bucket}/{full}", async c =>
        {
            // Listing is paged; a fault on any page restarts it, so the whole list is gathered per attempt.
            var found = new List<StorageObject>();
            await foreach (var item in _client.ListObjectsEnumAsync(new ListObjectsArgs()
                               .WithBucket(Bucket).WithPrefix(full).WithRecursive(true), c).ConfigureAwait(false))
            {
                if (item.IsDir || item.Key.Length <= strip) continue;
                found.Add(new StorageObject(item.Key[strip..], (long)item.Size, NormalizeETag(item.ETag)));
            }
            found.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return (IReadOnlyList<StorageObject>)found;
        }, prefix, ct).ConfigureAwait(false);
    }

    public async Task DeleteAsync(string key, CancellationToken ct = default)
    {
        var name = ObjectName(key);
        await RunAsync($"delete of {Where(key)}", async c =>
        {
            await _client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(Bucket).WithObject(name), c)
                .ConfigureAwait(false);
            return true;
        }, key, ct).ConfigureAwait(false);
    }

    /// <summary>Creates the bucket when it does not exist (for local setups and tests; clusters provision buckets).</summary>
    public async Task EnsureBucketAsync(CancellationToken ct = default)
    {
        await RunAsync($"creation of bucket s3://{Bucket}", async c =>
        {
            if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(Bucket), c).ConfigureAwait(false))
                await _client.MakeBucketAsync(new MakeBucketArgs().WithBucket(Bucket), c).ConfigureAwait(false);
            return true;
        }, "", ct).ConfigureAwait(false);
    }

    public void Dispose() => _client.Dispose();

    private async Task<T> RunAsync<T>(string operation, Func<CancellationToken, Task<T>> action, string key, CancellationToken ct)
    {
        try
        {
            return await TransientFaults.RunAsync(_pipeline, operation, _options.Retry.MaxRetries, action, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not FastReidException and not OperationCanceledException
                                  && Translate(e, operation, key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>Permanent failures as errors a user can act on. Minio messages never carry the secret key, but we still only quote summaries.</summary>
    private FastReidException? Translate(Exception e, string operation, string key) => e switch
    {
        BucketNotFoundException => new FastReidException(
            $"{operation} failed: bucket '{Bucket}' does not exist at {_settings.EndpointDescription}", e),
        ObjectNotFoundException => new FastReidException($"{operation} failed: {Where(key)} does not exist", e),
        AuthorizationException or AccessDeniedException or ForbiddenException => new FastReidException(
            $"{operation} failed: access denied by {_settings.EndpointDescription} for access key '{_settings.AccessKey}' " +
            "(check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy)", e),
        InvalidObjectNameException or InvalidBucketNameException => new FastReidException(
            $"{operation} failed: the server rejected the name ({TransientFaults.Summarize(e)})", e),
        MinioException => new FastReidException($"{operation} failed: {TransientFaults.Summarize(e)}", e),
        _ => null,
    };

    internal static string NormalizeETag(string? etag) => (etag ?? "").Trim('"');
}
