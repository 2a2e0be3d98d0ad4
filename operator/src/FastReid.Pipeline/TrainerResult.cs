using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline;

/// <summary>
/// The trainer's result JSON (≤ 4 KB, written to <c>$FASTREID_RESULT_FILE</c>, read back from the pod's
/// termination message): <c>{"status": "Succeeded", "metrics": {"mAP": .., "rank1": .., ...}, "artefacts": {"model": uri,
/// "config": uri, "metrics": uri, "manifest": uri}, "sha256": {"model_final.pth": hex, ...}, "budget": {"key": .., "used": ..}}</c>
/// (FastReid.Engine.Results). FastReID's own metric names (<c>Rank-1</c>) are accepted too.
/// </summary>
public sealed record TrainerResult(ReidMetrics Metrics, ArtefactsStatus Artefacts, double? BudgetUsed)
{
    /// <summary>Parses a termination message; on failure returns null and says why.</summary>
    public static TrainerResult? TryParse(string? message, out string? error)
    {
        if (ParseMessage(message, "rank-0", out error) is not { } root) return null;

        var metrics = new ReidMetrics();
        if (root["metrics"] is JsonObject m)
        {
            foreach (var (key, value) in m)
            {
                if (value is not JsonValue v || !v.TryGetValue<double>(out var number)) continue;
                switch (key.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant())
                {
                    case "map": metrics.MAP = number; break;
                    case "rank1": metrics.Rank1 = number; break;
                    case "rank5": metrics.Rank5 = number; break;
                    case "rank10": metrics.Rank10 = number; break;
                    case "minp": metrics.MINP = number; break;
                }
            }
        }

        var artefacts = new ArtefactsStatus();
        if (root["artefacts"] is JsonObject a)
        {
            artefacts.Model = Text(a, "model");
            artefacts.Checkpoint = Text(a, "checkpoint");
            artefacts.Config = Text(a, "config");
            artefacts.Export = Text(a, "export");
            artefacts.Metrics = Text(a, "metrics");
            artefacts.Manifest = Text(a, "manifest");
        }
        if (root["sha256"] is JsonObject digests)
        {
            artefacts.Sha256 = digests
                .Where(p => p.Value is JsonValue v && v.TryGetValue<string>(out _))
                .OrderBy(p => p.Key, StringComparer.Ordinal)
                .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
        }
        double? budget = (root["budget"]?["used"] ?? root["budgetUsed"]) is JsonValue b && b.TryGetValue<double>(out var used) ? used : null;
        return new TrainerResult(metrics, artefacts, budget);
    }

    /// <summary>A pod's termination message as a JSON object; null with the reason when it is absent or not JSON.</summary>
    internal static JsonObject? ParseMessage(string? message, string pod, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(message)) { error = $"the {pod} pod left no termination message"; return null; }
        try
        {
            return JsonNode.Parse(message) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException e)
        {
            error = $"the {pod} termination message is not result JSON ({e.Message}): {Truncate(message, 120)}";
            return null;
        }
    }

    private static string? Text(JsonObject obj, string key) =>
        obj[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static string Truncate(string text, int length) =>
        text.Length <= length ? text : text[..length] + "…";
}
