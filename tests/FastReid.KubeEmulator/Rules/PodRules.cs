using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Rules;

/// <summary>Pod defaulting and validation: the parts a controller that creates pods would trip over.</summary>
internal static class PodRules
{
    static readonly string[] RestartPolicies = ["Always", "OnFailure", "Never"];

    /// <summary>Defaults a PodSpec in place, as the apiserver's defaulters do (also applied to Job pod templates).</summary>
    public static void DefaultSpec(JsonObject spec)
    {
        spec["restartPolicy"] ??= "Always";
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["securityContext"] ??= new JsonObject();
        foreach (var list in new[] { "containers", "initContainers" })
            foreach (var c in (spec[list] as JsonArray ?? []).OfType<JsonObject>())
            {
                c["terminationMessagePath"] ??= "/dev/termination-log";
                c["terminationMessagePolicy"] ??= "File";
                var image = Meta.Str(c["image"]);
                c["imagePullPolicy"] ??= image.EndsWith(":latest", StringComparison.Ordinal) || !image.Contains(':') ? "Always" : "IfNotPresent";
                c["resources"] ??= new JsonObject();
            }
    }

    /// <summary>
    /// A pod's spec, or a pod template's (<paramref name="forPod"/> false): as the apiserver, an image with leading or
    /// trailing whitespace is refused only in a pod, so a Job with one is stored and its pods are refused.
    /// </summary>
    public static IEnumerable<FieldError> ValidateSpec(JsonObject? spec, string path, bool forPod = true)
    {
        if (spec is null)
        {
            yield return FieldError.Required(path);
            yield break;
        }
        if (spec["containers"] is not JsonArray containers || containers.Count == 0)
            yield return FieldError.Required($"{path}.containers");
        else
        {
            var names = new HashSet<string>();
            for (var i = 0; i < containers.Count; i++)
            {
                var c = containers[i] as JsonObject;
                var name = Meta.Str(c?["name"]);
                if (name.Length == 0) yield return FieldError.Required($"{path}.containers[{i}].name");
                else if (!NameRules.IsDnsLabel(name)) yield return FieldError.InvalidValue($"{path}.containers[{i}].name", name, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'");
                else if (!names.Add(name)) yield return new FieldError($"{path}.containers[{i}].name", "FieldValueDuplicate", $"Duplicate value: \"{name}\"");
                if (Meta.Str(c?["image"]).Length == 0) yield return FieldError.Required($"{path}.containers[{i}].image");
            }
        }
        foreach (var list in new[] { "initContainers", "containers" })
        {
            var items = spec[list] as JsonArray ?? [];
            for (var i = 0; i < items.Count; i++)
            {
                var image = Meta.Str(items[i]?["image"]);
                if (forPod && image.Length != image.Trim().Length)
                    yield return FieldError.InvalidValue($"{path}.{list}[{i}].image", image, "must not have leading or trailing whitespace");
                var env = items[i]?["env"] as JsonArray ?? [];
                for (var j = 0; j < env.Count; j++)
                    foreach (var reference in new[] { "secretKeyRef", "configMapKeyRef" })
                        if (env[j]?["valueFrom"]?[reference] is JsonObject selector)
                            foreach (var e in NameRules.ValidateConfigKey(Meta.Str(selector["key"]), $"{path}.{list}[{i}].env[{j}].valueFrom.{reference}.key"))
                                yield return e;
            }
        }
        var restart = Meta.Str(spec["restartPolicy"]);
        if (!RestartPolicies.Contains(restart)) yield return FieldError.Unsupported($"{path}.restartPolicy", restart, RestartPolicies);
    }

    public static void PrepareForCreate(JsonObject pod)
    {
        pod["status"] = new JsonObject { ["phase"] = "Pending", ["qosClass"] = "BestEffort" };
    }

    /// <summary>Pod specs are immutable apart from images, activeDeadlineSeconds and added tolerations.</summary>
    public static IEnumerable<FieldError> ValidateUpdate(JsonObject pod, JsonObject old)
    {
        var a = Mutable(pod["spec"]);
        var b = Mutable(old["spec"]);
        if (!Meta.Same(a, b))
            yield return FieldError.Forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)");
    }

    static JsonNode? Mutable(JsonNode? spec)
    {
        if (spec is not JsonObject s) return spec;
        var copy = s.DeepClone().AsObject();
        copy.Remove("activeDeadlineSeconds");
        copy.Remove("tolerations");
        foreach (var list in new[] { "containers", "initContainers" })
            foreach (var c in (copy[list] as JsonArray ?? []).OfType<JsonObject>())
                c.Remove("image");
        return copy;
    }
}
