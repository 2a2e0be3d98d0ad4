namespace FastReid.Storage;

/// <summary>
/// One named part of a checkpoint as the engine produced it (model state, optimizer state, trainer-state
/// JSON...): a local file, bytes in memory, or a stream. Names are plain file names such as
/// <c>model.pth</c>; <c>checkpoint.json</c> is reserved for the store.
/// </summary>
public sealed class CheckpointFile
{
    private readonly string? _path;
    private readonly ReadOnlyMemory<byte>? _bytes;
    private readonly Stream? _stream;

    private CheckpointFile(string name, string? path, ReadOnlyMemory<byte>? bytes, Stream? stream)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('/') || name.Contains('\\') || name is "." or ".."
            || name == CheckpointStore.ManifestName || AtomicFile.IsTemporary(name))
            throw new FastReidException(
                $"checkpoint file name '{name}' is not allowed: use a plain file name (no '/'), other than '{CheckpointStore.ManifestName}'");
        Name = name;
        _path = path;
        _bytes = bytes;
        _stream = stream;
    }

    public string Name { get; }

    /// <summary>A file the engine wrote; it is read, never moved or deleted.</summary>
    public static CheckpointFile FromPath(string name, string localPath) => new(name, Path.GetFullPath(localPath), null, null);

    public static CheckpointFile FromBytes(string name, ReadOnlyMemory<byte> bytes) => new(name, null, bytes, null);

    /// <summary>A stream, read from its current position to its end. Non-seekable streams are spooled to a temporary file.</summary>
    public static CheckpointFile FromStream(string name, Stream content) => new(name, null, null, content);

    /// <summary>Makes the content re-readable (for hashing and retried uploads) and hands back a local file path.</summary>
    internal async Task<StagedFile> StageAsync(string scratchDirectory, CancellationToken ct)
    {
        if (_path is not null)
        {
            if (!File.Exists(_path))
                throw new FastReidException($"checkpoint file '{Name}': '{_path}' does not exist");
            return new StagedFile(_path, Owned: false);
        }
        var spool = Path.Combine(scratchDirectory, Name);
        await using (var file = new FileStream(spool, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            if (_bytes is { } bytes) await file.WriteAsync(bytes, ct).ConfigureAwait(false);
            else await _stream!.CopyToAsync(file, ct).ConfigureAwait(false);
        }
        return new StagedFile(spool, Owned: true);
    }

    internal sealed record StagedFile(string Path, bool Owned);
}
