namespace FastReid.Storage;

/// <summary>
/// Objects below one root location (an S3 bucket/prefix or a local directory), addressed by relative
/// '/'-separated keys. Writes are all-or-nothing: a reader never sees half an object. Both backends
/// behave the same; S3 calls are retried on transient faults.
/// </summary>
public interface IStorage : IDisposable
{
    /// <summary>The root this storage was opened at.</summary>
    StorageUri Root { get; }

    /// <summary>The full location of a key, for messages and result files.</summary>
    string UriOf(string key) => Root.Combine(key).ToString();

    /// <summary>Uploads a local file. The file is only read, never moved or deleted, even when the upload fails.</summary>
    Task PutFileAsync(string localPath, string key, CancellationToken ct = default);

    /// <summary>Uploads a stream from its current position to its end. Non-seekable streams are spooled to a temporary file first so retries can re-read them.</summary>
    Task PutStreamAsync(Stream content, string key, CancellationToken ct = default);

    /// <summary>Downloads an object to a local file atomically (temporary file, then rename); missing objects are a <see cref="FastReidException"/> naming the URI.</summary>
    Task<StorageObject> GetFileAsync(string key, string localPath, CancellationToken ct = default);

    /// <summary>Size and ETag of an object, or null when it does not exist.</summary>
    Task<StorageObject?> StatAsync(string key, CancellationToken ct = default);

    async Task<bool> ExistsAsync(string key, CancellationToken ct = default) =>
        await StatAsync(key, ct).ConfigureAwait(false) is not null;

    /// <summary>Every object whose key starts with <paramref name="prefix"/> (plain string prefix, as S3 does), ordered by key.</summary>
    Task<IReadOnlyList<StorageObject>> ListAsync(string prefix = "", CancellationToken ct = default);

    /// <summary>Deletes an object; deleting a missing object is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken ct = default);
}

/// <summary>
/// One stored object. <see cref="ETag"/> changes whenever the content changes (S3: the server's ETag;
/// local files: size and modification time, not a content digest).
/// </summary>
public sealed record StorageObject(string Key, long Size, string ETag);
