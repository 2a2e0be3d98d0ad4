using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator;

/// <summary>
/// Writes pod status the way a kubelet reports it, through the same status-subresource patch a test
/// could send itself: pods in the emulator never run, so tests move them along with these calls.
/// </summary>
public sealed class Kubelet
{
    readonly ApiOperations _ops;

    internal Kubelet(ApiOperations ops) => _ops = ops;

    /// <summary>Phase Running, containers running and ready, pod Ready condition True.</summary>
    public void Start(string ns, string pod)
    {
        var now = Meta.Now();
        Patch(ns, pod, ContainerNames(ns, pod), name => new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } },
            "Running", ready: true, now);
    }

    /// <summary>
    /// Terminates every container with <paramref name="exitCode"/> and <paramref name="message"/> (the
    /// termination message, e.g. the trainer's result JSON); phase Succeeded when the code is 0, else Failed.
    /// </summary>
    public void Finish(string ns, string pod, int exitCode = 0, string message = "")
    {
        var now = Meta.Now();
        Patch(ns, pod, ContainerNames(ns, pod), _ => new JsonObject
        {
            ["terminated"] = new JsonObject
            {
                ["exitCode"] = exitCode, ["reason"] = exitCode == 0 ? "Completed" : "Error", ["message"] = message,
                ["startedAt"] = now, ["finishedAt"] = now,
            },
        }, exitCode == 0 ? "Succeeded" : "Failed", ready: false, now);
    }

    List<string> ContainerNames(string ns, string pod) =>
        (_ops.Get(BuiltinResources.Pods, ns, pod)["spec"]?["containers"] as JsonArray ?? [])
            .Select(c => Meta.Str(c?["name"])).ToList();

    void Patch(string ns, string pod, List<string> containers, Func<string, JsonObject> state, string phase, bool ready, string now)
    {
        var statuses = new JsonArray(containers.Select(name => (JsonNode)new JsonObject
        {
            ["name"] = name, ["ready"] = ready, ["restartCount"] = 0, ["started"] = ready, ["image"] = "", ["imageID"] = "",
            ["state"] = state(name),
        }).ToArray());
        var patch = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["phase"] = phase,
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False", ["lastTransitionTime"] = now }),
                ["containerStatuses"] = statuses,
                ["startTime"] = now,
            },
        };
        _ops.Patch(BuiltinResources.Pods, ns, pod, "application/merge-patch+json", patch, statusWrite: true, FieldValidation.Strict);
    }
}
