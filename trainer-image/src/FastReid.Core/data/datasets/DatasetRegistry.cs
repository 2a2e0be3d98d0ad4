namespace FastReid.Data.Datasets;

/// <summary>
/// Dataset parsers chosen by name from <c>DATASETS.NAMES</c>/<c>DATASETS.TESTS</c>, rooted at
/// <c>$FASTREID_DATASETS</c> (default <c>datasets</c>) as in FastReID. A name that is not a known
/// dataset is read as a generic folder (<see cref="GenericFolder"/>) under the root.
/// </summary>
public static class DatasetRegistry
{
    private static readonly Dictionary<string, Func<string, ReidDataset>> Known = new(StringComparer.Ordinal)
    {
        ["Market1501"] = Market1501.Load,
        ["DukeMTMC"] = DukeMtmc.Load,
        ["MSMT17"] = Msmt17.Load,
        ["VeRi"] = VeRi.Load,
    };

    public static IReadOnlyCollection<string> Names => Known.Keys;

    public static string Root() =>
        Environment.GetEnvironmentVariable("FASTREID_DATASETS") is { Length: > 0 } root ? root : "datasets";

    public static ReidDataset Load(string name, string? root = null)
    {
        root ??= Root();
        if (!Directory.Exists(root))
            throw new FastReidException($"dataset root '{Path.GetFullPath(root)}' does not exist (set FASTREID_DATASETS to the folder holding your datasets)");
        if (Known.TryGetValue(name, out var load)) return load(root);
        var folder = Path.Combine(root, name);
        if (Directory.Exists(folder)) return GenericFolder.Load(folder, name);
        throw new FastReidException(
            $"unknown dataset '{name}': not one of {string.Join(", ", Known.Keys)} and no folder '{folder}' with train/ query/ gallery/ exists");
    }
}
