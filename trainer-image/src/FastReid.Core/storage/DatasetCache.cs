using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace FastReid.Storage;

/// <summary>What one <see cref="DatasetCache.SyncAsync"/> did.</summary>
public sealed record DatasetSyncResult(string LocalRoot, int Downloaded, int Reused, int Removed, long BytesDownloaded);

/// <summary>
/// A remote dataset mirrored into a local folder, keyed by object ETags: the first run downloads every
/// object, later runs download only objects whose ETag or size changed (or that are new) and delete local
/// copies of objects that are gone. Layout: <c>&lt;cache&gt;/data/&lt;key&gt;</c> plus <c>&lt;cache&gt;/index.json</c>
/// (source URI and ETag/size per key, rewritten atomically as downloads finish).
/// </summary>
public sealed class DatasetCache(IStorage source, string cacheDirectory, Action<string>? log = null, int parallelism = 4)
{
    private const string IndexFormat = "fastreid.dataset-cache/v1";

    public string CacheDirectory { get; } = Path.GetFullPath(cacheDirectory);

    /// <summary>Where the dataset's files are, once synced.</summary>
    public string DataDirectory => Path.Combine(CacheDirectory, "data");

    private string IndexPath => Path.Combine(CacheDirectory, "index.json");

    /// <summary>
    /// The local folder for a dataset location: a local path as is; an s3:// dataset synced into a folder
    /// of <paramref name="cacheRoot"/> named after the URI.
    /// </summary>
    public static async Task<string> ResolveAsync(string datasetUri, string cacheRoot, StorageOptions? options = null,
        CancellationToken ct = default)
    {
        var location = StorageUri.Parse(datasetUri);
        if (!location.IsS3)
        {
            if (!Directory.Exists(location.LocalPath))
                throw new FastReidException($"dataset '{datasetUri}': no such directory");
            return location.LocalPath!;
        }
        using var storage = StorageFactory.Open(location, options);
        var cache = new DatasetCache(storage, DirectoryFor(cacheRoot, location), options?.Log);
        var result = await cache.SyncAsync(ct).ConfigureAwait(false);
        return result.LocalRoot;
    }

    /// <summary>A readable, collision-free cache folder name for a location: bucket-prefix plus a short hash.</summary>
    public static string DirectoryFor(string cacheRoot, StorageUri location)
    {
        var text = location.ToString();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
        var readable = new string(text["s3://".Length..].Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_').ToArray());
        if (readable.Length > 80) readable = readable[..80];
        return Path.Combine(Path.GetFullPath(cacheRoot), $"{readable}-{hash}");
    }

    public async Task<DatasetSyncResult> SyncAsync(CancellationToken ct = default)
    {
        var remote = await source.ListAsync("", ct).ConfigureAwait(false);
        if (remote.Count == 0)
            throw new FastReidException($"dataset {source.Root}: no objects found (check the bucket and prefix)");
        Directory.CreateDirectory(DataDirectory);
        var index = ReadIndex();
        var wanted = remote.ToDictionary(o => o.Key, StringComparer.Ordinal);

        var removed = 0;
        foreach (var key in index.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
        {
            var path = LocalPathOf(key);
            if (File.Exists(path)) File.Delete(path);
            index.Remove(key);
            removed++;
        }

        var stale = remote.Where(o => !IsCurrent(index, o)).ToList();
        var reused = remote.Count - stale.Count;
        long bytes = 0;
        var downloaded = 0;
        var gate = new object();
        var lastSave = DateTime.UtcNow;
        await Parallel.ForEachAsync(stale, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = ct },
            async (obj, c) =>
            {
                var got = await source.GetFileAsync(obj.Key, LocalPathOf(obj.Key), c).ConfigureAwait(false);
                lock (gate)
                {
                    index[obj.Key] = new CachedObject(got.ETag, got.Size);
                    downloaded++;
                    bytes += got.Size;
                    // Save progress now and then so an interrupted sync resumes where it stopped.
                    if (DateTime.UtcNow - lastSave > TimeSpan.FromSeconds(5))
                    {
                        WriteIndex(index);
                        lastSave = DateTime.UtcNow;
                    }
                }
            }).ConfigureAwait(false);
        WriteIndex(index);

        // Files in the data folder that the source does not have (e.g. left by an interrupted older sync).
        foreach (var path in Directory.EnumerateFiles(DataDirectory, "*", SearchOption.AllDirectories).ToList())
        {
            var key = Path.GetRelativePath(DataDirectory, path).Replace(Path.DirectorySeparatorChar, '/');
            if (!wanted.ContainsKey(key)) { File.Delete(path); removed++; }
        }

        if (downloaded > 0 || removed > 0)
            log?.Invoke($"dataset cache: {source.Root} -> {DataDirectory}: downloaded {downloaded} ({bytes} bytes), reused {reused}, removed {removed}");
        return new DatasetSyncResult(DataDirectory, downloaded, reused, removed, bytes);
    }

    private bool IsCurrent(Dictionary<string, CachedObject> index, StorageObject remote) =>
        index.TryGetValue(remote.Key, out var cached) && cached.ETag == remote.ETag && cached.Size == remote.Size
        && new FileInfo(LocalPathOf(remote.Key)) is { Exists: true } local && local.Length == remote.Size;

    private string LocalPathOf(string key)
    {
        StorageKey.Validate(key, source.Root.ToString());
        return Path.Combine(DataDirectory, key.Replace('/', Path.DirectorySeparatorChar));
    }

    private Dictionary<string, CachedObject> ReadIndex()
    {
        if (!File.Exists(IndexPath)) return new(StringComparer.Ordinal);
        try
        {
            var document = JsonSerializer.Deserialize<IndexDocument>(File.ReadAllText(IndexPath), ArtifactManifest.Json);
            if (document is { Format: IndexFormat, Objects: { } objects } && document.Source == source.Root.ToString())
                return new Dictionary<string, CachedObject>(objects, StringComparer.Ordinal);
        }
        catch (JsonException)
        {
        }
        log?.Invoke($"dataset cache: {IndexPath} is unreadable or for another source; checking every object again");
        return new(StringComparer.Ordinal);
    }

    private void WriteIndex(Dictionary<string, CachedObject> index)
    {
        var document = new IndexDocument(IndexFormat, source.Root.ToString(), new SortedDictionary<string, CachedObject>(index, StringComparer.Ordinal));
        AtomicFile.WriteAllBytes(IndexPath, JsonSerializer.SerializeToUtf8Bytes(document, ArtifactManifest.Json));
    }

    private sealed record CachedObject(string ETag, long Size);

    private sealed record IndexDocument(string? Format, string? Source, IDictionary<string, CachedObject>? Objects);
}
