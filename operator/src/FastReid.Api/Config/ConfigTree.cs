using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FastReid.Config;

/// <summary>
/// Reads config documents into the plain tree <see cref="FastReidConfig.MergeTree"/> takes: mappings as
/// dictionaries, sequences as lists, scalars as their text. YAML from files, JSON from a custom resource.
/// </summary>
public static class ConfigTree
{
    public const string BaseKey = "_BASE_";

    public static IReadOnlyDictionary<string, object?> FromYaml(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigException($"{source}: line {e.Start.Line}, column {e.Start.Column}: {e.Message}");
        }
        if (stream.Documents.Count == 0) return new Dictionary<string, object?>();
        if (stream.Documents.Count > 1) throw new ConfigException($"{source}: expected one YAML document, found {stream.Documents.Count}");
        return stream.Documents[0].RootNode switch
        {
            YamlMappingNode map => Mapping(map, source, ""),
            YamlScalarNode { Value: null or "" } => new Dictionary<string, object?>(),
            var other => throw new ConfigException($"{source}: line {other.Start.Line}: the top level must be a mapping of keys"),
        };
    }

    private static Dictionary<string, object?> Mapping(YamlMappingNode map, string source, string prefix)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
        {
            var name = (k as YamlScalarNode)?.Value
                ?? throw new ConfigException($"{source}: line {k.Start.Line}: keys must be plain names");
            if (!result.TryAdd(name, Node(v, source, prefix + name)))
                throw new ConfigException($"{source}: line {k.Start.Line}: {prefix}{name} appears twice", prefix + name);
        }
        return result;
    }

    private static object? Node(YamlNode node, string source, string path) => node switch
    {
        YamlMappingNode m => Mapping(m, source, path + "."),
        YamlSequenceNode s => s.Children.Select(c => c is YamlScalarNode sc ? (object?)(sc.Value ?? "")
            : throw new ConfigException($"{source}: line {c.Start.Line}: {path}: list items must be single values", path)).ToList(),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "~" or "null" } => null,
        YamlScalarNode s => s.Value ?? "",
        _ => throw new ConfigException($"{source}: line {node.Start.Line}: {path}: unsupported YAML node", path),
    };

    public static IReadOnlyDictionary<string, object?> FromJson(JsonNode? node, string source) => node switch
    {
        null => new Dictionary<string, object?>(),
        JsonObject obj => JsonObjectTree(obj, source),
        _ => throw new ConfigException($"{source}: the config must be an object of keys"),
    };

    private static Dictionary<string, object?> JsonObjectTree(JsonObject obj, string source)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in obj) result[k] = JsonValueTree(v, source);
        return result;
    }

    private static object? JsonValueTree(JsonNode? node, string source) => node switch
    {
        null => null,
        JsonObject o => JsonObjectTree(o, source),
        JsonArray a => a.Select(item => item is JsonObject or JsonArray
            ? throw new ConfigException($"{source}: {item.GetPath()}: list items must be single values")
            : JsonValueTree(item, source)).ToList(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => "True",
            JsonValueKind.False => "False",
            JsonValueKind.Number => v.ToJsonString(),
            _ => null,
        },
        _ => null,
    };

    /// <summary>The <c>_BASE_</c> entry of a tree (a relative or absolute path), if any.</summary>
    public static string? BaseOf(IReadOnlyDictionary<string, object?> tree, string source) =>
        tree.TryGetValue(BaseKey, out var b)
            ? b as string ?? throw new ConfigException($"{source}: {BaseKey} must be a file path")
            : null;

    public static IReadOnlyDictionary<string, object?> WithoutBase(IReadOnlyDictionary<string, object?> tree) =>
        tree.Where(kv => kv.Key != BaseKey).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

}
