using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using k8s.Models;

namespace FastReid.KubeEmulator.Schema;

/// <summary>
/// Unknown-field detection for built-in kinds. The apiserver decodes built-ins into Go structs, so a
/// field the struct lacks is dropped (Ignore), reported (Warn) or rejected (Strict). The KubernetesClient
/// models mirror those structs, so decoding into them with unmapped members disallowed finds the same fields.
/// </summary>
internal static partial class BuiltinSchemas
{
    static readonly JsonSerializerOptions Strict = new() { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    static readonly Dictionary<string, Type> Models = new()
    {
        ["/pods"] = typeof(V1Pod), ["/services"] = typeof(V1Service), ["/configmaps"] = typeof(V1ConfigMap),
        ["/secrets"] = typeof(V1Secret), ["/namespaces"] = typeof(V1Namespace), ["/events"] = typeof(Corev1Event),
        ["events.k8s.io/events"] = typeof(Eventsv1Event), ["batch/jobs"] = typeof(V1Job),
        ["coordination.k8s.io/leases"] = typeof(V1Lease),
        ["apiextensions.k8s.io/customresourcedefinitions"] = typeof(V1CustomResourceDefinition),
        ["/serviceaccounts"] = typeof(V1ServiceAccount), ["apps/deployments"] = typeof(V1Deployment),
        ["rbac.authorization.k8s.io/roles"] = typeof(V1Role), ["rbac.authorization.k8s.io/rolebindings"] = typeof(V1RoleBinding),
        ["rbac.authorization.k8s.io/clusterroles"] = typeof(V1ClusterRole),
        ["rbac.authorization.k8s.io/clusterrolebindings"] = typeof(V1ClusterRoleBinding),
    };

    /// <summary>Removes fields the kind does not have and returns their paths (e.g. "spec.containers[0].imagee").</summary>
    public static List<string> PruneUnknown(string storageKey, JsonObject obj)
    {
        var unknown = new List<string>();
        if (!Models.TryGetValue(storageKey, out var model)) return unknown;
        for (var attempt = 0; attempt < 32; attempt++)
        {
            try
            {
                JsonSerializer.Deserialize(obj.ToJsonString(), model, Strict);
                return unknown;
            }
            catch (JsonException e) when (e.Message.Contains("could not be mapped", StringComparison.Ordinal) && e.Path is { } path)
            {
                if (!Remove(obj, path)) return unknown;
                unknown.Add(path.TrimStart('$').TrimStart('.'));
            }
            catch (JsonException)
            {
                // A value of the wrong type: left to the kind's own validation; models are lenient in places Go is not.
                return unknown;
            }
        }
        return unknown;
    }

    /// <summary>Follows a System.Text.Json path ($.a.b[0]['c.d']) and removes the member it ends at.</summary>
    static bool Remove(JsonObject root, string path)
    {
        var segments = Segment().Matches(path).Select(m => m.Groups["name"].Success ? (object)m.Groups["name"].Value
            : m.Groups["quoted"].Success ? m.Groups["quoted"].Value : int.Parse(m.Groups["index"].Value)).ToList();
        JsonNode? node = root;
        for (var i = 0; i < segments.Count - 1; i++)
            node = segments[i] is int index ? (node as JsonArray)?[index] : (node as JsonObject)?[(string)segments[i]];
        return segments.Count > 0 && segments[^1] is string last && node is JsonObject parent && parent.Remove(last);
    }

    [GeneratedRegex(@"\.(?<name>[^.\[\]']+)|\['(?<quoted>[^']*)'\]|\[(?<index>\d+)\]")]
    private static partial Regex Segment();
}
