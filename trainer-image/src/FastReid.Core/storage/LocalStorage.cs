namespace FastReid.Storage;

/// <summary>
/// Objects as files below a local directory. Writes go through <see cref="AtomicFile"/>, so a crash
/// never leaves a partial file under its final name; temporary files are invisible to listings.
/// </summary>
public sealed class LocalStorage : IStorage
{
    private readonly string _root;

    public LocalStorage(StorageUri root)
    {
        if (root.IsS3) throw new ArgumentException("LocalStorage needs a local location", nameof(root));
        Root = root;
        _root = root.LocalPath!;
        if (File.Exists(_root))
            throw new FastReidException($"'{_root}' is a file; a storage location must be a directory");
    }

    public StorageUri Root { get; }

    private string PathOf(string key) => Root.Combine(key).LocalPath!;

    public async Task PutFileAsync(string localPath, string key, CancellationToken ct = default)
    {
        var target = PathOf(key);
        if (!File.Exists(localPath))
            throw new FastReidException($"cannot store '{localPath}' as {target}: the file does not exist");
        if (string.Equals(Path.GetFullPath(localPath), target, StringComparison.Ordinal))
            return;
        await using var source = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await AtomicFile.WriteAsync(target, (s, c) => source.CopyToAsync(s, c), ct).ConfigureAwait(false);
    }

    public Task PutStreamAsync(Stream content, string key, CancellationToken ct = default) =>
        AtomicFile.WriteAsync(PathOf(key), (s, c) => content.CopyToAsync(s, c), ct);

    public async Task<StorageObject> GetFileAsync(string key, string localPath, CancellationToken ct = default)
    {
        var source = PathOf(key);
        if (!File.Exists(source))
            throw new FastReidException($"{source}: no such file");
        await using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
            await AtomicFile.WriteAsync(localPath, (s, c) => input.CopyToAsync(s, c), ct).ConfigureAwait(false);
        return Describe(key, new FileInfo(source));
    }

    public Task<StorageObject?> StatAsync(string key, CancellationToken ct = default)
    {
        var info = new FileInfo(PathOf(key));
        return Task.FromResult(info.Exists ? Describe(key, info) : null);
    }

    public Task<IReadOnlyList<StorageObject>> ListAsync(string prefix = "", CancellationToken ct = default)
    {
        ValidatePrefix(prefix, Root.ToString());
        // Walk only the deepest directory the prefix pins down, then filter by plain string prefix as S3 does.
        var cut = prefix.LastIndexOf('/');
        var start = cut < 0 ? _root : Path.Combine(_root, prefix[..cut].Replace('/', Path.DirectorySeparatorChar));
        var found = new List<StorageObject>();
        if (Directory.Exists(start))
        {
            foreach (var path in Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories))
            {
                ct.ThrowIfCancellationRequested();
                if (AtomicFile.IsTemporary(path)) continue;
                var key = Path.GetRelativePath(_root, path).Replace(Path.DirectorySeparatorChar, '/');
                if (key.StartsWith(prefix, StringComparison.Ordinal))
                    found.Add(Describe(key, new FileInfo(path)));
            }
        }
        found.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return Task.FromResult<IReadOnlyList<StorageObject>>(found);
    }

    public Task DeleteAsync(string key, CancellationToken ct = default)
    {
        var path = PathOf(key);
        if (File.Exists(path)) File.Delete(path);
        // Remove directories the delete emptied, as S3 has no directories to leave behind.
        for (var dir = Path.GetDirectoryName(path);
             dir is not null && dir.Length > _root.Length && dir.StartsWith(_root, StringComparison.Ordinal)
             && Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any();
             dir = Path.GetDirectoryName(dir))
            Directory.Delete(dir);
        return Task.CompletedTask;
    }

    public void Dispose() { }

    private static StorageObject Describe(string key, FileInfo info) =>
        new(key, info.Length, $"{info.Length:x}-{info.LastWriteTimeUtc.Ticks:x}");

    internal static void ValidatePrefix(string prefix, string where)
    {
        if (prefix.StartsWith('/') || prefix.Contains('\\') || prefix.Split('/').Any(s => s is "." or ".."))
            throw new FastReidException($"list prefix '{prefix}' under {where} must be relative, '/'-separated and without '.' or '..' segments");
    }
}
