using System.Globalization;
using System.Text.Json;

namespace FastReid.Storage;

/// <summary>What the engine hands to <see cref="CheckpointStore.SaveAsync"/>.</summary>
public sealed record CheckpointRequest(int Epoch, long Iteration, IReadOnlyList<CheckpointFile> Files, bool IsBest = false);

/// <summary>A checkpoint as its manifest describes it (not yet verified against the stored objects).</summary>
public sealed record CheckpointInfo(string Name, int Epoch, long Iteration, bool IsBest, DateTimeOffset CreatedUtc,
    IReadOnlyList<ManifestEntry> Files)
{
    /// <summary>The checkpoint's objects as entries of the output's manifest.json (paths relative to the output root).</summary>
    public IEnumerable<ManifestEntry> ArtefactEntries =>
        Files.Select(f => f with { Path = $"{CheckpointStore.Folder}/{Name}/{f.Path}" });
}

/// <summary>A verified checkpoint in a local folder: <see cref="Files"/> maps each file name to its local path.</summary>
public sealed record LoadedCheckpoint(CheckpointInfo Info, string Directory, IReadOnlyDictionary<string, string> Files);

/// <summary>
/// Checkpoints below an output location, on any <see cref="IStorage"/>, crash-safe and verifiable.
/// <para>Layout:</para>
/// <code>
/// &lt;output&gt;/checkpoints/model_0001234/model.pth, optimizer.pth, trainer_state.json, ...   (objects)
/// &lt;output&gt;/checkpoints/model_0001234/checkpoint.json                                    (written last)
/// </code>
/// <para>
/// <c>checkpoint.json</c> holds epoch, iteration, is_best and the size and SHA-256 of every object. It is
/// written only after all objects are stored, so a crash at any byte leaves either no manifest (the
/// checkpoint is ignored) or a manifest whose digests expose any damaged object. Readers trust only
/// checkpoints whose every object matches its digest. Retention keeps the newest
/// <see cref="KeepLast"/> checkpoints plus the newest one saved with <c>IsBest</c>.
/// </para>
/// </summary>
public sealed class CheckpointStore(IStorage storage, int keepLast = 3, Action<string>? log = null)
{
    public const string Folder = "checkpoints";
    public const string ManifestName = "checkpoint.json";
    public const string Format = "fastreid.checkpoint/v1";

    public int KeepLast { get; } = keepLast >= 1
        ? keepLast
        : throw new FastReidException($"checkpoint retention must keep at least 1 checkpoint, got {keepLast}");

    public static string NameFor(long iteration) => $"model_{iteration.ToString("D7", CultureInfo.InvariantCulture)}";

    private static string ManifestKey(string name) => $"{Folder}/{name}/{ManifestName}";

    /// <summary>
    /// Stores a checkpoint: every file first, then its manifest with their digests, then applies retention.
    /// The engine's files are never moved or deleted. Saving the same iteration again replaces it.
    /// </summary>
    public async Task<CheckpointInfo> SaveAsync(CheckpointRequest request, CancellationToken ct = default)
    {
        if (request.Files.Count == 0)
            throw new FastReidException($"checkpoint at iteration {request.Iteration} has no files");
        if (request.Iteration < 0 || request.Epoch < 0)
            throw new FastReidException($"checkpoint epoch ({request.Epoch}) and iteration ({request.Iteration}) must be >= 0");
        var duplicate = request.Files.GroupBy(f => f.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new FastReidException($"checkpoint at iteration {request.Iteration} has two files named '{duplicate.Key}'");

        var name = NameFor(request.Iteration);
        // An older manifest under this name must stop vouching for objects we are about to replace.
        await storage.DeleteAsync(ManifestKey(name), ct).ConfigureAwait(false);

        var scratch = Directory.CreateTempSubdirectory("fastreid-ckpt-");
        var entries = new List<ManifestEntry>();
        try
        {
            foreach (var file in request.Files)
            {
                var staged = await file.StageAsync(scratch.FullName, ct).ConfigureAwait(false);
                entries.Add(await ManifestEntry.DescribeFileAsync(staged.Path, file.Name, ct).ConfigureAwait(false));
                await storage.PutFileAsync(staged.Path, $"{Folder}/{name}/{file.Name}", ct).ConfigureAwait(false);
                if (staged.Owned) File.Delete(staged.Path);
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }

        var info = new CheckpointInfo(name, request.Epoch, request.Iteration, request.IsBest, DateTimeOffset.UtcNow, entries);
        using (var manifest = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(ToDocument(info), ArtifactManifest.Json)))
            await storage.PutStreamAsync(manifest, ManifestKey(name), ct).ConfigureAwait(false);
        log?.Invoke($"checkpoint: saved {storage.UriOf($"{Folder}/{name}")} (epoch {info.Epoch}, iteration {info.Iteration}{(info.IsBest ? ", best" : "")})");

        await ApplyRetentionAsync(name, ct).ConfigureAwait(false);
        return info;
    }

    /// <summary>Checkpoints whose manifest can be read, newest first. Digests are not checked here.</summary>
    public async Task<IReadOnlyList<CheckpointInfo>> ListAsync(CancellationToken ct = default)
    {
        var objects = await storage.ListAsync($"{Folder}/", ct).ConfigureAwait(false);
        var found = new List<CheckpointInfo>();
        foreach (var manifest in objects.Where(o => IsManifestKey(o.Key)))
        {
            var info = await TryReadManifestAsync(manifest.Key, ct).ConfigureAwait(false);
            if (info is not null) found.Add(info);
        }
        return found.OrderByDescending(c => c.Iteration).ThenByDescending(c => c.CreatedUtc).ToList();
    }

    /// <summary>
    /// The newest checkpoint whose every file verifies, downloaded into <paramref name="localDirectory"/>/&lt;name&gt;/;
    /// null when there is none (a fresh start). Damaged or incomplete checkpoints are skipped with a note, and so
    /// are verified ones that <paramref name="skip"/> gives a reason for (e.g. another run's, in a shared output).
    /// </summary>
    public async Task<LoadedCheckpoint?> LoadLatestValidAsync(string localDirectory, Func<LoadedCheckpoint, string?>? skip = null,
        CancellationToken ct = default)
    {
        foreach (var candidate in await ListAsync(ct).ConfigureAwait(false))
        {
            var loaded = await TryLoadAsync(candidate, localDirectory, ct).ConfigureAwait(false);
            if (loaded is null) continue;
            if (skip?.Invoke(loaded) is not { } reason) return loaded;
            log?.Invoke($"checkpoint: not resuming {storage.UriOf($"{Folder}/{candidate.Name}")}: {reason}");
            Directory.Delete(loaded.Directory, recursive: true);
        }
        return null;
    }

    /// <summary>The newest verified checkpoint saved with <c>IsBest</c>, or null.</summary>
    public async Task<LoadedCheckpoint?> LoadBestAsync(string localDirectory, CancellationToken ct = default)
    {
        foreach (var candidate in (await ListAsync(ct).ConfigureAwait(false)).Where(c => c.IsBest))
        {
            var loaded = await TryLoadAsync(candidate, localDirectory, ct).ConfigureAwait(false);
            if (loaded is not null) return loaded;
        }
        return null;
    }

    /// <summary>Downloads and verifies one checkpoint; null (with a note) when any file is missing or differs from its digest.</summary>
    public async Task<LoadedCheckpoint?> TryLoadAsync(CheckpointInfo checkpoint, string localDirectory, CancellationToken ct = default)
    {
        var target = Path.Combine(Path.GetFullPath(localDirectory), checkpoint.Name);
        Directory.CreateDirectory(target);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in checkpoint.Files)
        {
            var local = Path.Combine(target, entry.Path);
            var problem = await ArtifactManifest.CheckAsync(storage, $"{Folder}/{checkpoint.Name}/{entry.Path}", entry, local, ct)
                .ConfigureAwait(false);
            if (problem is not null)
            {
                log?.Invoke($"checkpoint: skipping {storage.UriOf($"{Folder}/{checkpoint.Name}")}: {entry.Path} is {problem}");
                Directory.Delete(target, recursive: true);
                return null;
            }
            files[entry.Path] = local;
        }
        return new LoadedCheckpoint(checkpoint, target, files);
    }

    /// <summary>
    /// Keeps the newest <see cref="KeepLast"/> checkpoints and the newest best one; deletes the rest
    /// (manifest first, so a half-deleted checkpoint never looks valid), leftovers of crashed saves, and
    /// checkpoints newer than the one just saved.
    /// </summary>
    private async Task ApplyRetentionAsync(string justSaved, CancellationToken ct)
    {
        // Checkpoints newer than the one just saved belong to a timeline this run abandoned (it resumed
        // from an older one because they did not verify), so they are not worth keeping.
        var all = await ListAsync(ct).ConfigureAwait(false);
        var saved = all.FirstOrDefault(c => c.Name == justSaved);
        var checkpoints = all.Where(c => saved is null || c.Iteration <= saved.Iteration).ToList();
        var keep = checkpoints.Take(KeepLast).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        if (checkpoints.FirstOrDefault(c => c.IsBest) is { } best) keep.Add(best.Name);
        keep.Add(justSaved);
        var objects = await storage.ListAsync($"{Folder}/", ct).ConfigureAwait(false);
        var doomed = objects
            .Select(o => (Object: o, Name: CheckpointNameOf(o.Key)))
            .Where(x => x.Name is not null && !keep.Contains(x.Name))
            .OrderBy(x => IsManifestKey(x.Object.Key) ? 0 : 1)
            .ToList();
        foreach (var (obj, _) in doomed)
            await storage.DeleteAsync(obj.Key, ct).ConfigureAwait(false);
        foreach (var name in doomed.Select(d => d.Name).Distinct())
            log?.Invoke($"checkpoint: removed {storage.UriOf($"{Folder}/{name}")} (retention: last {KeepLast} plus best)");
    }

    private async Task<CheckpointInfo?> TryReadManifestAsync(string key, CancellationToken ct)
    {
        var where = storage.UriOf(key);
        try
        {
            var text = await StorageText.TryReadAsync(storage, key, ct).ConfigureAwait(false);
            if (text is null) return null;
            var document = JsonSerializer.Deserialize<CheckpointDocument>(text, ArtifactManifest.Json);
            if (document is not { Format: Format, Name: { } name, Files: { } files } || name != CheckpointNameOf(key))
                throw new FastReidException("not a checkpoint manifest for this folder");
            return new CheckpointInfo(name, document.Epoch, document.Iteration, document.IsBest, document.CreatedUtc,
                new ArtifactManifest(files).Entries);
        }
        catch (Exception e) when (e is JsonException or FastReidException && !ct.IsCancellationRequested)
        {
            log?.Invoke($"checkpoint: ignoring {where}: {e.Message}");
            return null;
        }
    }

    private static bool IsManifestKey(string key) =>
        key.EndsWith($"/{ManifestName}", StringComparison.Ordinal) && key.Count(c => c == '/') == 2;

    /// <summary>The checkpoint folder name of a key below checkpoints/, or null for anything else.</summary>
    private static string? CheckpointNameOf(string key)
    {
        var parts = key.Split('/');
        return parts.Length == 3 && parts[0] == Folder && parts[1].StartsWith("model_", StringComparison.Ordinal) ? parts[1] : null;
    }

    private static CheckpointDocument ToDocument(CheckpointInfo info) =>
        new(Format, info.Name, info.Epoch, info.Iteration, info.IsBest, info.CreatedUtc, info.Files.ToList());

    private sealed record CheckpointDocument(string? Format, string? Name, int Epoch, long Iteration, bool IsBest,
        DateTimeOffset CreatedUtc, List<ManifestEntry>? Files);
}
