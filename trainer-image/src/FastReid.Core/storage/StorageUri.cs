using System.Text.RegularExpressions;

namespace FastReid.Storage;

/// <summary>
/// Where artefacts live: <c>s3://bucket/prefix</c>, <c>file:///abs/dir</c> or a plain local path.
/// Keys below a location are relative, '/'-separated and never climb out of it.
/// </summary>
public sealed partial record StorageUri
{
    private StorageUri(string? bucket, string prefix, string? localPath)
    {
        Bucket = bucket;
        Prefix = prefix;
        LocalPath = localPath;
    }

    /// <summary>The S3 bucket, or null for a local location.</summary>
    public string? Bucket { get; }

    /// <summary>The key prefix inside the bucket, without leading or trailing '/'; empty for the bucket root.</summary>
    public string Prefix { get; }

    /// <summary>The absolute local directory or file path, or null for S3.</summary>
    public string? LocalPath { get; }

    public bool IsS3 => Bucket is not null;

    /// <summary>Parses a location given by a user (config key, CLI flag); errors name the input and what is allowed.</summary>
    public static StorageUri Parse(string uri)
    {
        if (string.IsNullOrWhiteSpace(uri))
            throw new FastReidException("storage location is empty: expected s3://bucket/prefix, file:///path or a local path");
        var text = uri.Trim();
        if (text.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            return ParseS3(uri, text["s3://".Length..]);
        if (text.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            var rest = text["file://".Length..];
            if (rest.StartsWith("localhost/", StringComparison.OrdinalIgnoreCase))
                rest = rest["localhost".Length..];
            if (!rest.StartsWith('/'))
                throw new FastReidException($"'{uri}': a file:// URI needs an absolute path (file:///data/out), not a host");
            return new StorageUri(null, "", Path.GetFullPath(Uri.UnescapeDataString(rest)));
        }
        if (SchemePattern().Match(text) is { Success: true } scheme)
            throw new FastReidException(
                $"'{uri}': unsupported storage scheme '{scheme.Groups[1].Value}://'; use s3://bucket/prefix, file:///path or a local path");
        return new StorageUri(null, "", Path.GetFullPath(text));
    }

    private static StorageUri ParseS3(string uri, string rest)
    {
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        if (!BucketPattern().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
            throw new FastReidException(
                $"'{uri}': '{bucket}' is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, '.', '-'; starting and ending with a letter or digit)");
        if (prefix.Length > 0)
            StorageKey.Validate(prefix, $"s3://{bucket}", uri);
        return new StorageUri(bucket, prefix, null);
    }

    /// <summary>The location of <paramref name="key"/> below this one.</summary>
    public StorageUri Combine(string key)
    {
        StorageKey.Validate(key, ToString());
        return IsS3
            ? new StorageUri(Bucket, StorageKey.Join(Prefix, key), null)
            : new StorageUri(null, "", Path.Combine(LocalPath!, key.Replace('/', Path.DirectorySeparatorChar)));
    }

    /// <summary>Splits a location into its parent and its last segment (the object or file name).</summary>
    public (StorageUri Parent, string Name) Split()
    {
        if (IsS3)
        {
            if (Prefix.Length == 0)
                throw new FastReidException($"'{this}' names a bucket, not an object");
            var cut = Prefix.LastIndexOf('/');
            return cut < 0
                ? (new StorageUri(Bucket, "", null), Prefix)
                : (new StorageUri(Bucket, Prefix[..cut], null), Prefix[(cut + 1)..]);
        }
        var name = Path.GetFileName(LocalPath!.TrimEnd(Path.DirectorySeparatorChar));
        var parent = Path.GetDirectoryName(LocalPath!.TrimEnd(Path.DirectorySeparatorChar));
        if (string.IsNullOrEmpty(name) || parent is null)
            throw new FastReidException($"'{this}' names a root directory, not a file");
        return (new StorageUri(null, "", parent), name);
    }

    public override string ToString() =>
        IsS3 ? (Prefix.Length == 0 ? $"s3://{Bucket}" : $"s3://{Bucket}/{Prefix}") : LocalPath!;

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]+)://")]
    private static partial Regex SchemePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketPattern();
}

/// <summary>Rules for the relative keys used below a <see cref="StorageUri"/>.</summary>
public static class StorageKey
{
    /// <summary>Throws a <see cref="FastReidException"/> naming <paramref name="where"/> unless the key is relative and stays inside it.</summary>
    public static void Validate(string key, string where, string? original = null)
    {
        string? problem = null;
        if (string.IsNullOrEmpty(key)) problem = "is empty";
        else if (key.StartsWith('/')) problem = "starts with '/'";
        else if (key.Contains('\\')) problem = "contains '\\' (use '/')";
        else if (key.Contains('\0')) problem = "contains a NUL character";
        else if (key.Split('/').Any(s => s is "" or "." or ".."))
            problem = "has an empty, '.' or '..' segment";
        if (problem is not null)
            throw new FastReidException($"key '{key}' under {where}{(original is null ? "" : $" (from '{original}')")} {problem}; keys are relative, '/'-separated paths");
    }

    public static string Join(string prefix, string key) =>
        prefix.Length == 0 ? key : key.Length == 0 ? prefix : $"{prefix.TrimEnd('/')}/{key}";
}
