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

    /// <summary>
    /// What a kubelet does before it starts the containers: it resolves each container's env from the Secrets and
    /// ConfigMaps it names (<c>secretKeyRef</c>, <c>configMapKeyRef</c>, <c>envFrom</c>; optional ones may be
    /// missing). When one is missing the pod stays Pending with that container waiting in
    /// <c>CreateContainerConfigError</c> and the kubelet's message (<c>secret "s3-creds" not found</c>, <c>couldn't
    /// find key K in Secret ns/name</c>), and this returns false; otherwise it is <see cref="Start"/>ed.
    /// </summary>
    public bool TryStart(string ns, string pod)
    {
        var spec = _ops.Get(BuiltinResources.Pods, ns, pod)["spec"];
        foreach (var container in (spec?["initContainers"] as JsonArray ?? []).Concat(spec?["containers"] as JsonArray ?? []))
        {
            if (ConfigError(ns, container) is not { } error) continue;
            Wait(ns, pod, Meta.Str(container?["name"]), "CreateContainerConfigError", error);
            return false;
        }
        Start(ns, pod);
        return true;
    }

    /// <summary>
    /// Pod Pending, <paramref name="container"/> (an init container or a container) waiting with
    /// <paramref name="reason"/> and <paramref name="message"/> (e.g. ImagePullBackOff), the containers after it
    /// waiting in PodInitializing (behind an init container) or ContainerCreating.
    /// </summary>
    public void Wait(string ns, string pod, string container, string reason, string message)
    {
        var spec = _ops.Get(BuiltinResources.Pods, ns, pod)["spec"];
        var inits = Names(spec?["initContainers"]);
        var now = Meta.Now();
        int stuck = inits.IndexOf(container);
        bool behindInit = stuck >= 0;
        JsonObject Waiting(string name) => new()
        {
            ["waiting"] = name == container ? new JsonObject { ["reason"] = reason, ["message"] = message }
                : new JsonObject { ["reason"] = behindInit ? "PodInitializing" : "ContainerCreating" },
        };
        WriteStatus(ns, pod, new JsonObject
        {
            ["phase"] = "Pending",
            ["conditions"] = new JsonArray(
                Condition("PodScheduled", true, now), Condition("Initialized", !behindInit, now), Condition("Ready", false, now)),
            ["initContainerStatuses"] = inits.Count == 0 ? null
                : Statuses(inits, name => behindInit && inits.IndexOf(name) >= stuck ? Waiting(name) : Completed(now), ready: false),
            ["containerStatuses"] = Statuses(Names(spec?["containers"]), Waiting, ready: false),
            ["startTime"] = now,
        });
    }

    /// <summary>The scheduler's answer when no node fits: pod Pending, PodScheduled False Unschedulable with <paramref name="message"/>, no container statuses.</summary>
    public void Unschedulable(string ns, string pod, string message)
    {
        WriteStatus(ns, pod, new JsonObject
        {
            ["phase"] = "Pending",
            ["conditions"] = new JsonArray(new JsonObject
            {
                ["type"] = "PodScheduled", ["status"] = "False", ["reason"] = "Unschedulable", ["message"] = message,
                ["lastTransitionTime"] = Meta.Now(),
            }),
            ["initContainerStatuses"] = null,
            ["containerStatuses"] = null,
        });
    }

    /// <summary>
    /// Init container <paramref name="container"/> exits <paramref name="exitCode"/> (not 0) with
    /// <paramref name="message"/>; with restartPolicy Never the pod fails and its containers never leave PodInitializing.
    /// </summary>
    public void FailInit(string ns, string pod, string container, int exitCode, string message)
    {
        var spec = _ops.Get(BuiltinResources.Pods, ns, pod)["spec"];
        var inits = Names(spec?["initContainers"]);
        int failed = inits.IndexOf(container);
        if (failed < 0) throw new ArgumentException($"pod {ns}/{pod} has no init container {container}", nameof(container));
        var now = Meta.Now();
        WriteStatus(ns, pod, new JsonObject
        {
            ["phase"] = "Failed",
            ["conditions"] = new JsonArray(Condition("PodScheduled", true, now), Condition("Initialized", false, now), Condition("Ready", false, now)),
            ["initContainerStatuses"] = Statuses(inits, name => inits.IndexOf(name).CompareTo(failed) switch
            {
                < 0 => Completed(now),
                0 => new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = exitCode, ["reason"] = "Error", ["message"] = message, ["startedAt"] = now, ["finishedAt"] = now } },
                _ => new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "PodInitializing" } },
            }, ready: false),
            ["containerStatuses"] = Statuses(Names(spec?["containers"]), _ => new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "PodInitializing" } }, ready: false),
            ["startTime"] = now,
        });
    }

    /// <summary>The kubelet's message for the first Secret or ConfigMap (or key) the container's env needs and cannot have; null when all resolve.</summary>
    string? ConfigError(string ns, JsonNode? container)
    {
        foreach (var env in (container?["env"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (env["valueFrom"]?["secretKeyRef"] is JsonObject secretRef && Missing(ns, BuiltinResources.Secrets, "secret", "Secret", secretRef) is { } secretError)
                return secretError;
            if (env["valueFrom"]?["configMapKeyRef"] is JsonObject mapRef && Missing(ns, BuiltinResources.ConfigMaps, "configmap", "ConfigMap", mapRef) is { } mapError)
                return mapError;
        }
        foreach (var from in (container?["envFrom"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (from["secretRef"] is JsonObject secretRef && Missing(ns, BuiltinResources.Secrets, "secret", "Secret", secretRef, wholeObject: true) is { } secretError)
                return secretError;
            if (from["configMapRef"] is JsonObject mapRef && Missing(ns, BuiltinResources.ConfigMaps, "configmap", "ConfigMap", mapRef, wholeObject: true) is { } mapError)
                return mapError;
        }
        return null;
    }

    string? Missing(string ns, ResourceType type, string lower, string kind, JsonObject reference, bool wholeObject = false)
    {
        if (reference["optional"]?.GetValue<bool>() == true) return null;
        var name = Meta.Str(reference["name"]);
        JsonObject found;
        try
        {
            found = _ops.Get(type, ns, name);
        }
        catch (ApiException e) when (e.Code == 404)
        {
            return $"{lower} \"{name}\" not found";
        }
        var key = Meta.Str(reference["key"]);
        if (wholeObject || (found["data"] as JsonObject)?.ContainsKey(key) == true || (found["binaryData"] as JsonObject)?.ContainsKey(key) == true) return null;
        return $"couldn't find key {key} in {kind} {ns}/{name}";
    }

    List<string> ContainerNames(string ns, string pod) => Names(_ops.Get(BuiltinResources.Pods, ns, pod)["spec"]?["containers"]);

    static List<string> Names(JsonNode? containers) => (containers as JsonArray ?? []).Select(c => Meta.Str(c?["name"])).ToList();

    static JsonArray Statuses(List<string> names, Func<string, JsonObject> state, bool ready) => new(names.Select(name => (JsonNode)new JsonObject
    {
        ["name"] = name, ["ready"] = ready, ["restartCount"] = 0, ["started"] = ready, ["image"] = "", ["imageID"] = "",
        ["state"] = state(name),
    }).ToArray());

    static JsonObject Condition(string type, bool status, string now) =>
        new() { ["type"] = type, ["status"] = status ? "True" : "False", ["lastTransitionTime"] = now };

    void WriteStatus(string ns, string pod, JsonObject status) =>
        _ops.Patch(BuiltinResources.Pods, ns, pod, "application/merge-patch+json", new JsonObject { ["status"] = status }, statusWrite: true, FieldValidation.Strict);

    /// <summary>Containers running or terminated, so every init container has completed (exit 0).</summary>
    void Patch(string ns, string pod, List<string> containers, Func<string, JsonObject> state, string phase, bool ready, string now)
    {
        var inits = Names(_ops.Get(BuiltinResources.Pods, ns, pod)["spec"]?["initContainers"]);
        WriteStatus(ns, pod, new JsonObject
        {
            ["phase"] = phase,
            ["conditions"] = new JsonArray(Condition("Ready", ready, now)),
            ["initContainerStatuses"] = inits.Count == 0 ? null : Statuses(inits, _ => Completed(now), ready: false),
            ["containerStatuses"] = Statuses(containers, state, ready),
            ["startTime"] = now,
        });
    }

    static JsonObject Completed(string now) =>
        new() { ["terminated"] = new JsonObject { ["exitCode"] = 0, ["reason"] = "Completed", ["startedAt"] = now, ["finishedAt"] = now } };
}
