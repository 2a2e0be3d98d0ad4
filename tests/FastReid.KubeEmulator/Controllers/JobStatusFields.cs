using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Controllers;

/// <summary>JobStatus field helpers: counts omitted at zero, conditions keyed by type, completedIndexes ranges.</summary>
internal static class JobStatusFields
{
    public static int Int(JsonNode? node) => (int)(Meta.Long(node) ?? 0);

    public static void SetCount(JsonObject status, string field, int value)
    {
        if (value == 0) status.Remove(field);
        else status[field] = value;
    }

    public static bool HasCondition(JsonObject status, string type) =>
        (status["conditions"] as JsonArray ?? []).OfType<JsonObject>().Any(c => Meta.Str(c["type"]) == type && Meta.Str(c["status"]) == "True");

    public static void SetCondition(JsonObject status, string type, string value, string reason, string message, string now)
    {
        var conditions = status["conditions"] as JsonArray ?? new JsonArray();
        status["conditions"] = conditions;
        var existing = conditions.OfType<JsonObject>().FirstOrDefault(c => Meta.Str(c["type"]) == type);
        if (existing is not null && Meta.Str(existing["status"]) == value) return;
        var condition = new JsonObject
        {
            ["type"] = type, ["status"] = value, ["lastProbeTime"] = now, ["lastTransitionTime"] = now, ["reason"] = reason, ["message"] = message,
        };
        if (existing is not null) conditions[conditions.IndexOf(existing)] = condition;
        else conditions.Add(condition);
    }

    /// <summary>Parses "0-2,4" into {0,1,2,4}.</summary>
    public static SortedSet<int> ParseIndexes(string text)
    {
        var set = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            var from = int.Parse(range[0], CultureInfo.InvariantCulture);
            var to = range.Length > 1 ? int.Parse(range[1], CultureInfo.InvariantCulture) : from;
            for (var i = from; i <= to; i++) set.Add(i);
        }
        return set;
    }

    /// <summary>Formats {0,1,2,4} as "0-2,4", the completedIndexes syntax.</summary>
    public static string FormatIndexes(SortedSet<int> indexes)
    {
        var parts = new List<string>();
        int? start = null, prev = null;
        foreach (var i in indexes.Append(int.MinValue))
        {
            if (start is not null && i != prev + 1)
            {
                parts.Add(start == prev ? $"{start}" : $"{start}-{prev}");
                start = null;
            }
            if (i == int.MinValue) break;
            start ??= i;
            prev = i;
        }
        return string.Join(",", parts);
    }
}
