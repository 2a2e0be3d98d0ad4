using System.Globalization;
using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Storage;

/// <summary>Reads and writes ObjectMeta fields of a JSON object without a typed model.</summary>
internal static class Meta
{
    public static JsonObject Of(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject m) return m;
        var created = new JsonObject();
        obj["metadata"] = created;
        return created;
    }

    public static string Name(JsonObject obj) => Str(obj["metadata"]?["name"]);
    public static string Namespace(JsonObject obj) => Str(obj["metadata"]?["namespace"]);
    public static string Uid(JsonObject obj) => Str(obj["metadata"]?["uid"]);

    public static long ResourceVersion(JsonObject obj) =>
        long.TryParse(Str(obj["metadata"]?["resourceVersion"]), NumberStyles.None, CultureInfo.InvariantCulture, out var rv) ? rv : 0;

    public static void SetResourceVersion(JsonObject obj, long rv) => Of(obj)["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);

    public static long Generation(JsonObject obj) => Long(obj["metadata"]?["generation"]) ?? 0;

    /// <summary>A JSON number as long whatever CLR type backs the node (int, long, or parsed JSON).</summary>
    public static long? Long(JsonNode? node) =>
        node is JsonValue && long.TryParse(node.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : null;

    public static bool IsDeleting(JsonObject obj) => obj["metadata"]?["deletionTimestamp"] is not null;

    public static List<string> Finalizers(JsonObject obj) =>
        obj["metadata"]?["finalizers"] is JsonArray a ? a.Select(Str).ToList() : [];

    public static void SetFinalizers(JsonObject obj, IReadOnlyCollection<string> finalizers)
    {
        var m = Of(obj);
        if (finalizers.Count == 0) m.Remove("finalizers");
        else m["finalizers"] = new JsonArray(finalizers.Select(f => (JsonNode)JsonValue.Create(f)!).ToArray());
    }

    public static Dictionary<string, string> Labels(JsonObject obj) => StringMap(obj["metadata"]?["labels"]);

    public static Dictionary<string, string> StringMap(JsonNode? node)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonObject o)
            foreach (var (k, v) in o) result[k] = Str(v);
        return result;
    }

    public static IEnumerable<JsonObject> OwnerReferences(JsonObject obj) =>
        obj["metadata"]?["ownerReferences"] is JsonArray a ? a.OfType<JsonObject>() : [];

    public static string Str(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node is null ? "" : node.ToJsonString();

    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Now() => Timestamp(DateTimeOffset.UtcNow);

    /// <summary>Equality of two JSON trees ignoring the order of object members, as semantic equality in apimachinery does.</summary>
    public static bool Same(JsonNode? a, JsonNode? b) => JsonNode.DeepEquals(a, b);
}
