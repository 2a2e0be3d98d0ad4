using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// Server-side printing (meta.k8s.io/v1 Table), which kubectl asks for on <c>get</c>: a Name column,
/// the kind's printer columns (a CRD's additionalPrinterColumns), dates shown as ages.
/// </summary>
internal static class TableWriter
{
    public static JsonObject Table(ResourceType type, IEnumerable<JsonObject> objects, long revision, string? includeObject, string? continueToken = null)
    {
        var columns = new JsonArray(new JsonObject
        {
            ["name"] = "Name", ["type"] = "string", ["format"] = "name", ["description"] = "Name must be unique within a namespace.", ["priority"] = 0,
        });
        foreach (var c in type.PrinterColumns ?? [])
            columns.Add(new JsonObject
            {
                ["name"] = c.Name, ["type"] = c.Type == "date" ? "string" : c.Type, ["format"] = c.Format, ["description"] = c.Description,
                ["priority"] = c.Priority,
            });
        var rows = new JsonArray();
        foreach (var obj in objects) rows.Add(Row(type, obj, includeObject));
        var metadata = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) };
        if (!string.IsNullOrEmpty(continueToken)) metadata["continue"] = continueToken;
        return new JsonObject
        {
            ["kind"] = "Table", ["apiVersion"] = "meta.k8s.io/v1", ["metadata"] = metadata, ["columnDefinitions"] = columns, ["rows"] = rows,
        };
    }

    static JsonObject Row(ResourceType type, JsonObject obj, string? includeObject)
    {
        var cells = new JsonArray(Meta.Name(obj));
        foreach (var c in type.PrinterColumns ?? []) cells.Add(Cell(type, c, obj));
        var row = new JsonObject { ["cells"] = cells };
        if (includeObject == "Object") row["object"] = obj.DeepClone();
        else if (includeObject != "None")
            row["object"] = new JsonObject
            {
                ["kind"] = "PartialObjectMetadata", ["apiVersion"] = "meta.k8s.io/v1", ["metadata"] = obj["metadata"]?.DeepClone(),
            };
        return row;
    }

    static JsonNode? Cell(ResourceType type, PrinterColumn column, JsonObject obj)
    {
        if (type.StorageKey == "batch/jobs" && column.Name == "Completions")
        {
            var done = Meta.Str(obj["status"]?["succeeded"]);
            var wanted = Meta.Str(obj["spec"]?["completions"]);
            return $"{(done.Length > 0 ? done : "0")}/{(wanted.Length > 0 ? wanted : "1")}";
        }
        var value = Evaluate(obj, column.JsonPath);
        if (value is null) return column.Type is "integer" or "number" ? null : "<none>";
        if (column.Type == "date")
            return DateTimeOffset.TryParse(Meta.Str(value), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                ? HumanDuration(DateTimeOffset.UtcNow - t) : "<unknown>";
        return value is JsonValue ? value.DeepClone() : value.ToJsonString();
    }

    /// <summary>The subset of JSONPath printer columns use: <c>.a.b[0].c</c>.</summary>
    public static JsonNode? Evaluate(JsonNode? node, string path)
    {
        foreach (var raw in path.TrimStart('.').Split('.'))
        {
            var part = raw;
            var index = -1;
            var bracket = raw.IndexOf('[');
            if (bracket >= 0)
            {
                part = raw[..bracket];
                _ = int.TryParse(raw[(bracket + 1)..].TrimEnd(']'), out index);
            }
            if (part.Length > 0) node = node?[part];
            if (index >= 0) node = node is JsonArray a && index < a.Count ? a[index] : null;
            if (node is null) return null;
        }
        return node;
    }

    /// <summary>Kubernetes' HumanDuration: 45s, 5m30s, 40m, 3h20m, 20h, 2d5h, 20d, 2y.</summary>
    public static string HumanDuration(TimeSpan d)
    {
        if (d < TimeSpan.Zero) d = TimeSpan.Zero;
        var seconds = (long)d.TotalSeconds;
        if (seconds < 120) return $"{seconds}s";
        var minutes = (long)d.TotalMinutes;
        if (minutes < 10) return seconds % 60 == 0 ? $"{minutes}m" : $"{minutes}m{seconds % 60}s";
        if (minutes < 180) return $"{minutes}m";
        var hours = (long)d.TotalHours;
        if (hours < 8) return minutes % 60 == 0 ? $"{hours}h" : $"{hours}h{minutes % 60}m";
        if (hours < 48) return $"{hours}h";
        var days = (long)d.TotalDays;
        if (days < 8) return hours % 24 == 0 ? $"{days}d" : $"{days}d{hours % 24}h";
        if (days < 365 * 2) return $"{days}d";
        return $"{days / 365}y";
    }
}
