using System.Text.Json.Nodes;

namespace FastReid.Operator.Tests.Packaging;

/// <summary>charts/fastreid-operator read from the repository and rendered with <see cref="HelmTemplate"/>.</summary>
internal sealed class Chart
{
    public static readonly HelmTemplate.Release DefaultRelease = new("fastreid-operator", "fastreid-system");

    public string Dir { get; } = Repo.PathOf("charts", "fastreid-operator");
    public JsonObject Values { get; }
    public JsonObject Schema { get; }
    public JsonObject Metadata { get; }

    public Chart()
    {
        Values = YamlJson.Object(File.ReadAllText(Path.Combine(Dir, "values.yaml")), "values.yaml");
        Schema = JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "values.schema.json")))!.AsObject();
        var chart = YamlJson.Object(File.ReadAllText(Path.Combine(Dir, "Chart.yaml")), "Chart.yaml");
        // Helm exposes Chart.yaml's fields capitalised: .Chart.Name, .Chart.Version, .Chart.AppVersion.
        Metadata = new JsonObject(chart.Select(p => KeyValuePair.Create(char.ToUpperInvariant(p.Key[0]) + p.Key[1..], p.Value?.DeepClone())));
    }

    public IEnumerable<string> TemplateFiles() =>
        Directory.GetFiles(Path.Combine(Dir, "templates")).Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".txt", StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    /// <summary>values.yaml with some values replaced, given as dotted path → JSON.</summary>
    public JsonObject ValuesWith(params (string Path, string Json)[] overrides)
    {
        var values = Values.DeepClone().AsObject();
        foreach (var (path, json) in overrides)
        {
            var parts = path.Split('.');
            var node = values;
            foreach (var part in parts[..^1]) node = node[part] as JsonObject ?? throw new KeyNotFoundException($"{path}: {part} is not a map in values.yaml");
            node[parts[^1]] = JsonNode.Parse(json);
        }
        return values;
    }

    /// <summary>Each template file rendered: file name → text.</summary>
    public Dictionary<string, string> Render(JsonObject? values = null, HelmTemplate.Release? release = null) =>
        TemplateFiles().ToDictionary(f => Path.GetFileName(f), f => HelmTemplate.Render(File.ReadAllText(f), "templates/" + Path.GetFileName(f), values ?? Values, release ?? DefaultRelease, Metadata));

    /// <summary>The Kubernetes objects Helm would install (NOTES.txt left out).</summary>
    public List<JsonObject> Objects(JsonObject? values = null, HelmTemplate.Release? release = null) =>
        Render(values, release).Where(p => p.Key.EndsWith(".yaml", StringComparison.Ordinal))
            .SelectMany(p => YamlJson.Documents(p.Value, "templates/" + p.Key)).Cast<JsonObject>().ToList();

    public static JsonObject Single(List<JsonObject> objects, string kind, string? name = null)
    {
        var found = objects.Where(o => (string?)o["kind"] == kind && (name is null || (string?)o["metadata"]?["name"] == name)).ToList();
        Assert.True(found.Count == 1, $"expected one {kind}{(name is null ? "" : " " + name)} in the rendered chart, found {found.Count}");
        return found[0];
    }
}
