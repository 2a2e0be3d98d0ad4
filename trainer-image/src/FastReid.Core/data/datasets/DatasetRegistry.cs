namespace FastReid.Data.Datasets;

/// <summary>
/// Dataset parsers chosen by name from <c>DATASETS.NAMES</c>/<c>DATASETS.TESTS</c>, rooted at
/// <c>$FASTREID_DATASETS</c> (default <c>datasets</c>) as in FastReID. A name that is not a known
/// dataset is read as a generic folder (<see cref="GenericFolder"/>) under the root.
/// </summary>
public static class DatasetRegistry
{
    private static readonly Dictionary<string, Func<string, bool, ReidDataset>> Known = new(StringComparer.Ordinal)
    {
        ["Market1501"] = Market1501.Load,
        ["DukeMTMC"] = DukeMtmc.Load,
        ["MSMT17"] = Msmt17.Load,
        ["VeRi"] = VeRi.Load,
    };

    public static IReadOnlyCollection<string> Names => Known.Keys;

    /// <summary>
    /// The local dataset root: <c>$FASTREID_DATASETS</c> (default <c>datasets</c>). An <c>s3://</c> root is
    /// synced once into <c>$FASTREID_CACHE</c> (default <c>~/.cache/fastreid</c>), keyed by object ETags,
    /// and read from there.
    /// </summary>
    public static string Root(Action<string>? log = null)
    {
        var root = Environment.GetEnvironmentVariable("FASTREID_DATASETS") is { Length: > 0 } r ? r : "datasets";
        // In pods the operator names the remote dataset in FASTREID_DATASET_URI and mounts scratch space at FASTREID_DATASETS.
        if (Environment.GetEnvironmentVariable("FASTREID_DATASET_URI") is { Length: > 0 } uri && !root.StartsWith("s3://", StringComparison.Ordinal))
        {
            log?.Invoke($"FASTREID_DATASET_URI is {uri}: syncing into {root}");
            return Storage.DatasetCache.ResolveAsync(uri, root, new Storage.StorageOptions { Log = log, Retry = Storage.RetrySettings.FromEnvironment() })
                .GetAwaiter().GetResult();
        }
        if (!root.StartsWith("s3://", StringComparison.Ordinal)) return root;
        var cache = Environment.GetEnvironmentVariable("FASTREID_CACHE") is { Length: > 0 } c
            ? c : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fastreid");
        log?.Invoke($"FASTREID_DATASETS is {root}: syncing into the cache under {cache}");
        return Storage.DatasetCache.ResolveAsync(root, Path.Combine(cache, "datasets"), new Storage.StorageOptions { Log = log, Retry = Storage.RetrySettings.FromEnvironment() })
            .GetAwaiter().GetResult();
    }

    /// <param name="withTest">false: read the training split only (query and gallery come back empty and are not
    /// read at all: a run that evaluates on a validation split never touches the test set)</param>
    public static ReidDataset Load(string name, string? root = null, bool withTest = true)
    {
        root ??= Root();
        if (!Directory.Exists(root))
            throw new FastReidException($"dataset root '{Path.GetFullPath(root)}' does not exist (set FASTREID_DATASETS to the folder holding your datasets)");
        if (Known.TryGetValue(name, out var load)) return load(root, withTest);
        var folder = Path.Combine(root, name);
        if (Directory.Exists(folder)) return GenericFolder.Load(folder, name, withTest);
        throw new FastReidException(
            $"unknown dataset '{name}': not one of {string.Join(", ", Known.Keys)} and no folder '{folder}' with train/ query/ gallery/ exists");
    }
}
