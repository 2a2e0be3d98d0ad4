using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FastReid.Api.V1Alpha1;

/// <summary>
/// YAML manifests as JSON trees, with plain scalars typed by YAML 1.2's core schema (what kubectl's and Helm's
/// YAML readers do): null, booleans, integers and floats; quoted scalars stay strings. A manifest read here
/// deserializes with <see cref="ApiJson"/> exactly as the API server's JSON would.
/// </summary>
public static partial class ManifestYaml
{
    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();

    /// <summary>Every non-empty document of <paramref name="yaml"/>; <see cref="FormatException"/> naming <paramref name="source"/> when it is not YAML.</summary>
    public static List<JsonNode?> Documents(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new FormatException($"{source}: not valid YAML ({e.Message})", e);
        }
        return stream.Documents.Select(d => Convert(d.RootNode)).Where(d => d is not null).ToList();
    }

    /// <summary>The one mapping <paramref name="yaml"/> holds.</summary>
    public static JsonObject Object(string yaml, string source) =>
        Documents(yaml, source) is [JsonObject obj] ? obj : throw new FormatException($"{source}: expected one YAML mapping");

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? "", Convert(p.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain } scalar => Plain(scalar.Value ?? ""),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value ?? ""),
        _ => throw new FormatException($"unsupported YAML node {node.NodeType}"),
    };

    private static JsonNode? Plain(string text) => text switch
    {
        "" or "~" or "null" or "Null" or "NULL" => null,
        "true" or "True" or "TRUE" => JsonValue.Create(true),
        "false" or "False" or "FALSE" => JsonValue.Create(false),
        _ when Integer().IsMatch(text) => JsonValue.Create(long.Parse(text, CultureInfo.InvariantCulture)),
        _ when Float().IsMatch(text) => JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(text),
    };
}
