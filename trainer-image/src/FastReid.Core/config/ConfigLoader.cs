using FastReid.Config;

namespace FastReid.Config;

/// <summary>
/// Loads a FastReID YAML config file the way FastReID does: defaults, then the chain of
/// <c>_BASE_</c> files (paths relative to the file that names them), then the file, then trailing
/// <c>KEY VALUE</c> overrides. An <c>s3://</c> path (e.g. a run's published config.yaml) is downloaded
/// first; its <c>_BASE_</c> files, if any, must then be absolute local paths.
/// </summary>
public static class ConfigLoader
{
    public static FastReidConfig Load(string path, IReadOnlyList<string>? overrides = null)
    {
        if (path.StartsWith("s3://", StringComparison.Ordinal))
            return Storage.StorageFactory.WithLocalCopy(path, local => Load(local, overrides));
        var config = FastReidConfig.Defaults();
        MergeFile(config, Path.GetFullPath(path), []);
        if (overrides is { Count: > 0 }) config.ApplyOverrides(overrides);
        return config;
    }

    private static void MergeFile(FastReidConfig config, string path, List<string> chain)
    {
        if (chain.Contains(path))
            throw new ConfigException($"{path}: _BASE_ chain loops back: {string.Join(" -> ", chain.Append(path))}");
        if (!File.Exists(path))
            throw new ConfigException(chain.Count == 0
                ? $"config file not found: {path}"
                : $"{chain[^1]}: _BASE_ file not found: {path}");
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot read: {e.Message}");
        }
        var tree = ConfigTree.FromYaml(text, path);
        if (ConfigTree.BaseOf(tree, path) is { } baseRef)
        {
            var basePath = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, baseRef));
            MergeFile(config, basePath, [.. chain, path]);
        }
        config.MergeTree(ConfigTree.WithoutBase(tree), path);
    }
}
