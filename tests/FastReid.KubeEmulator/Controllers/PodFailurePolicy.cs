using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Controllers;

/// <summary>
/// A Job's podFailurePolicy applied to one failed pod: the first rule whose onExitCodes or
/// onPodConditions match decides the action (FailJob, Ignore, Count, FailIndex); no match counts.
/// </summary>
internal static class PodFailurePolicy
{
    public static (string Action, string Message) Evaluate(JsonObject? policy, JsonObject pod)
    {
        var rules = (policy?["rules"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            var action = Meta.Str(rule["action"]);
            if (rule["onExitCodes"] is JsonObject onExit && MatchingExit(onExit, pod) is { } exit)
                return (action, $"Container {exit.Container} for pod {Meta.Namespace(pod)}/{Meta.Name(pod)} failed with exit code {exit.Code} matching {action} rule at index {i}");
            if (rule["onPodConditions"] is JsonArray onConditions && onConditions.OfType<JsonObject>().Any(c => HasCondition(pod, c)))
                return (action, $"Pod {Meta.Namespace(pod)}/{Meta.Name(pod)} has condition matching {action} rule at index {i}");
        }
        return ("Count", "");
    }

    static (string Container, long Code)? MatchingExit(JsonObject onExit, JsonObject pod)
    {
        var container = Meta.Str(onExit["containerName"]);
        var values = (onExit["values"] as JsonArray ?? []).Select(Meta.Long).OfType<long>().ToHashSet();
        var isIn = Meta.Str(onExit["operator"]) == "In";
        foreach (var status in (pod["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (container.Length > 0 && Meta.Str(status["name"]) != container) continue;
            // Exit code 0 never matches: a container that succeeded is not why a pod failed.
            if (Meta.Long(status["state"]?["terminated"]?["exitCode"]) is not { } code || code == 0) continue;
            if (values.Contains(code) == isIn) return (Meta.Str(status["name"]), code);
        }
        return null;
    }

    static bool HasCondition(JsonObject pod, JsonObject wanted)
    {
        var status = Meta.Str(wanted["status"]) is { Length: > 0 } s ? s : "True";
        return (pod["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(c => Meta.Str(c["type"]) == Meta.Str(wanted["type"]) && Meta.Str(c["status"]) == status);
    }
}
