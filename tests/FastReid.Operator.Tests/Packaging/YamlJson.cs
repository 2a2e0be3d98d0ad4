using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Operator.Tests.Packaging;

/// <summary>YAML documents as JSON trees, read as <c>fastreid tune</c> reads manifests (<see cref="ManifestYaml"/>).</summary>
internal static class YamlJson
{
    public static List<JsonNode?> Documents(string yaml, string source) => ManifestYaml.Documents(yaml, source);

    public static JsonObject Object(string yaml, string source) => ManifestYaml.Object(yaml, source);
}
