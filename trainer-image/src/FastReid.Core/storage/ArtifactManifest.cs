using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastReid.Storage;

/// <summary>One artefact: its path relative to the manifest's folder, its size in bytes and its SHA-256 (lowercase hex).</summary>
public sealed record ManifestEntry(string Path, long Size, string Sha256)
{
    public static async Task<ManifestEntry> DescribeFileAsync(string localPath, string relativePath, CancellationToken ct = default)
    {
        StorageKey.Validate(relativePath, "the manifest");
        var size = new FileInfo(localPath).Length;
        return new ManifestEntry(relativePath, size, await Storage.Sha256.OfFileAsync(localPath, ct).ConfigureAwait(false));
    }
}

/// <summary>A disagreement between a manifest and what is stored.</summary>
public sealed record ManifestProblem(string Path, string Problem)
{
    public override string ToString() => $"{Path}: {Problem}";
}

/// <summary>
/// <c>manifest.json</c>: every artefact of an output with size and SHA-256, so anyone can check what
/// they downloaded. Format: <c>{"format": "fastreid.manifest/v1", "artefacts": [{"path", "size", "sha256"}]}</c>,
/// entries sorted by path.
/// </summary>
public sealed class ArtifactManifest
{
    public const string FileName = "manifest.json";
    public const string Format = "fastreid.manifest/v1";

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public ArtifactManifest(IEnumerable<ManifestEntry> entries)
    {
        var sorted = entries.OrderBy(e => e.Path, StringComparer.Ordinal).ToList();
        for (var i = 0; i < sorted.Count; i++)
        {
            StorageKey.Validate(sorted[i].Path, "the manifest");
            if (i > 0 && sorted[i].Path == sorted[i - 1].Path)
                throw new FastReidException($"manifest lists '{sorted[i].Path}' twice");
            if (sorted[i].Size < 0 || sorted[i].Sha256.Length != 64 || !sorted[i].Sha256.All(Uri.IsHexDigit))
                throw new FastReidException($"manifest entry '{sorted[i].Path}' needs a size >= 0 and a 64-digit hex sha256");
        }
        Entries = sorted;
    }

    public IReadOnlyList<ManifestEntry> Entries { get; }

    /// <summary>
    /// Describes every file below <paramref name="directory"/> (except manifest.json itself, temporary
    /// files, and relative paths <paramref name="exclude"/> names, such as a log still being written).
    /// </summary>
    public static async Task<ArtifactManifest> FromDirectoryAsync(string directory, CancellationToken ct = default,
        Func<string, bool>? exclude = null)
    {
        var root = Path.GetFullPath(directory);
        var entries = new List<ManifestEntry>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (relative == FileName || AtomicFile.IsTemporary(file) || exclude?.Invoke(relative) == true) continue;
            entries.Add(await ManifestEntry.DescribeFileAsync(file, relative, ct).ConfigureAwait(false));
        }
        return new ArtifactManifest(entries);
    }

    public string ToJson() => JsonSerializer.Serialize(new ManifestDocument(Format, Entries.ToList()), Json);

    /// <summary>Parses a manifest; <paramref name="where"/> names its location in errors.</summary>
    public static ArtifactManifest Parse(string json, string where)
    {
        ManifestDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<ManifestDocument>(json, Json);
        }
        catch (JsonException e)
        {
            throw new FastReidException($"{where}: not a valid manifest ({e.Message})", e);
        }
        if (document?.Format != Format || document.Artefacts is null)
            throw new FastReidException($"{where}: not a manifest (expected \"format\": \"{Format}\" and an \"artefacts\" list)");
        return new ArtifactManifest(document.Artefacts);
    }

    /// <summary>Writes the manifest as one object (all or nothing) at <paramref name="key"/>.</summary>
    public Task WriteAsync(IStorage storage, string key = FileName, CancellationToken ct = default) =>
        StorageText.WriteAsync(storage, key, ToJson(), ct);

    /// <summary>
    /// Uploads every file below <paramref name="localDirectory"/> to the same relative keys, then writes
    /// <c>manifest.json</c> LAST listing them plus <paramref name="alreadyStored"/> (e.g.
    /// <see cref="CheckpointInfo.ArtefactEntries"/> of the kept checkpoints). Local files are kept.
    /// </summary>
    public static async Task<ArtifactManifest> PublishDirectoryAsync(string localDirectory, IStorage storage,
        IEnumerable<ManifestEntry>? alreadyStored = null, CancellationToken ct = default, Func<string, bool>? exclude = null)
    {
        var local = await FromDirectoryAsync(localDirectory, ct, exclude).ConfigureAwait(false);
        foreach (var entry in local.Entries)
            await storage.PutFileAsync(Path.Combine(localDirectory, entry.Path.Replace('/', Path.DirectorySeparatorChar)), entry.Path, ct)
                .ConfigureAwait(false);
        // When the local folder is the storage root itself (a local OUTPUT_DIR), stored files are also
        // local files; the freshly hashed local entry wins.
        var localPaths = local.Entries.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
        var manifest = new ArtifactManifest(local.Entries.Concat((alreadyStored ?? []).Where(e => !localPaths.Contains(e.Path))));
        await manifest.WriteAsync(storage, FileName, ct).ConfigureAwait(false);
        return manifest;
    }

    /// <summary>Reads a manifest, or null when there is none at <paramref name="key"/>.</summary>
    public static async Task<ArtifactManifest?> ReadAsync(IStorage storage, string key = FileName, CancellationToken ct = default)
    {
        var text = await StorageText.TryReadAsync(storage, key, ct).ConfigureAwait(false);
        return text is null ? null : Parse(text, storage.UriOf(key));
    }

    /// <summary>
    /// Checks every entry against <paramref name="storage"/> (keys are entry paths below <paramref name="prefix"/>):
    /// present, same size, same SHA-256. Returns the problems found; empty means verified.
    /// </summary>
    public async Task<IReadOnlyList<ManifestProblem>> VerifyAsync(IStorage storage, string prefix = "", CancellationToken ct = default)
    {
        var problems = new List<ManifestProblem>();
        var scratch = Directory.CreateTempSubdirectory("fastreid-verify-");
        try
        {
            foreach (var entry in Entries)
            {
                var key = StorageKey.Join(prefix.TrimEnd('/'), entry.Path);
                var problem = await CheckAsync(storage, key, entry, Path.Combine(scratch.FullName, "object"), ct).ConfigureAwait(false);
                if (problem is not null) problems.Add(new ManifestProblem(entry.Path, problem));
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
        return problems;
    }

    /// <summary>Downloads <paramref name="key"/> to <paramref name="localPath"/> and checks it against <paramref name="entry"/>; returns the problem or null.</summary>
    internal static async Task<string?> CheckAsync(IStorage storage, string key, ManifestEntry entry, string localPath, CancellationToken ct)
    {
        var stat = await storage.StatAsync(key, ct).ConfigureAwait(false);
        if (stat is null) return "missing";
        if (stat.Size != entry.Size) return $"size {stat.Size}, manifest says {entry.Size}";
        try
        {
            await storage.GetFileAsync(key, localPath, ct).ConfigureAwait(false);
        }
        catch (FastReidException e) when (!ct.IsCancellationRequested)
        {
            return $"unreadable ({e.Message})";
        }
        var size = new FileInfo(localPath).Length;
        if (size != entry.Size) return $"size {size}, manifest says {entry.Size}";
        var digest = await Storage.Sha256.OfFileAsync(localPath, ct).ConfigureAwait(false);
        return digest == entry.Sha256 ? null : $"sha256 {digest}, manifest says {entry.Sha256}";
    }

    private sealed record ManifestDocument(string Format, List<ManifestEntry>? Artefacts);
}
