using System.Text.RegularExpressions;

namespace FastReid.Api.V1Alpha1;

/// <summary>The three kinds of place a spec's URI can name.</summary>
public enum StorageLocationKind
{
    /// <summary><c>s3://bucket/prefix</c>: read and written by the trainer with the output's S3 settings.</summary>
    S3,
    /// <summary><c>pvc://CLAIM/path</c>: a PersistentVolumeClaim of the resource's namespace, mounted into the pod.</summary>
    Pvc,
    /// <summary><c>/abs</c> or <c>file:///abs</c>: a path on the machine that runs the trainer (not a cluster pod's).</summary>
    Local,
}

/// <summary>
/// A URI of a spec (output, dataset, model, config) parsed once, for every planner and runner: the cluster planners
/// mount a <see cref="StorageLocationKind.Pvc"/> claim into the pod and give the trainer the mounted path, and a
/// runner on one machine maps <see cref="Claim"/> to a folder and <see cref="Path"/> below it. No I/O.
/// </summary>
public sealed partial record StorageLocation
{
    public const string S3Scheme = "s3://";
    public const string PvcScheme = "pvc://";
    public const string FileScheme = "file://";

    /// <summary>What the URIs of a spec may be, for messages.</summary>
    public const string Allowed = "s3://bucket/prefix, pvc://CLAIM/path or an absolute path (file:///... or /...)";

    private StorageLocation(StorageLocationKind kind, string uri, string? claim, string path)
    {
        Kind = kind;
        Uri = uri;
        Claim = claim;
        Path = path;
    }

    public StorageLocationKind Kind { get; }

    /// <summary>The URI as written in the spec.</summary>
    public string Uri { get; }

    /// <summary>The PersistentVolumeClaim's name for <see cref="StorageLocationKind.Pvc"/>, else null.</summary>
    public string? Claim { get; }

    /// <summary>
    /// For a claim, the path inside it: '/'-separated, without leading or trailing '/', "" for its root. For a local
    /// location, the absolute path (file:// removed). For S3, the URI.
    /// </summary>
    public string Path { get; }

    public bool IsPvc => Kind == StorageLocationKind.Pvc;
    public bool IsLocal => Kind == StorageLocationKind.Local;

    /// <summary>The location of a URI, or null with what is wrong and what is allowed.</summary>
    public static StorageLocation? TryParse(string uri, out string? error)
    {
        error = null;
        if (uri.StartsWith(S3Scheme, StringComparison.Ordinal))
        {
            if (uri.Length > S3Scheme.Length && uri[S3Scheme.Length] != '/') return new(StorageLocationKind.S3, uri, null, uri);
            error = $"'{uri}' names no bucket; {Allowed}";
            return null;
        }
        if (uri.StartsWith(PvcScheme, StringComparison.Ordinal)) return ParsePvc(uri, out error);
        if (uri.StartsWith(FileScheme, StringComparison.Ordinal))
        {
            if (uri.Length > FileScheme.Length && uri[FileScheme.Length] == '/') return new(StorageLocationKind.Local, uri, null, uri[FileScheme.Length..]);
            error = $"'{uri}' is not an absolute file:// URI (file:///data/out); {Allowed}";
            return null;
        }
        if (uri.StartsWith('/') && !uri.Contains("://", StringComparison.Ordinal)) return new(StorageLocationKind.Local, uri, null, uri);
        error = $"must be {Allowed}, got '{uri}'";
        return null;
    }

    /// <summary><c>pvc://CLAIM[/path]</c>: CLAIM a DNS subdomain (as Kubernetes names claims), path segments never '.', '..' or empty.</summary>
    private static StorageLocation? ParsePvc(string uri, out string? error)
    {
        error = null;
        var rest = uri[PvcScheme.Length..];
        var slash = rest.IndexOf('/');
        var claim = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? "" : rest[(slash + 1)..].TrimEnd('/');
        if (claim.Length is 0 or > 253 || !ClaimPattern().IsMatch(claim))
        {
            error = $"'{uri}': claim '{claim}' is not a PersistentVolumeClaim name (a DNS subdomain: lower-case letters, digits, '-' and '.', at most 253 characters); write pvc://CLAIM/path";
            return null;
        }
        if (path.Length > 0 && path.Split('/').FirstOrDefault(s => s is "" or "." or ".." || s.Contains('\\') || s.Contains('\0')) is { } bad)
        {
            error = $"'{uri}': path segment '{bad}' is not allowed (no empty, '.' or '..' segments: a path stays inside its claim)";
            return null;
        }
        return new(StorageLocationKind.Pvc, uri, claim, path);
    }

    /// <summary>The pvc:// URI of <paramref name="path"/> inside <paramref name="claim"/>.</summary>
    public static string PvcUri(string claim, string path) => path.Length == 0 ? PvcScheme + claim : $"{PvcScheme}{claim}/{path}";

    [GeneratedRegex(Validation.Dns1123Subdomain)]
    private static partial Regex ClaimPattern();
}
