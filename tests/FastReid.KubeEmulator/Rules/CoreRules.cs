using System.Text;
using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Rules;

/// <summary>Defaulting and validation for namespaces, services, secrets and configmaps.</summary>
internal static class CoreRules
{
    public static void PrepareNamespace(JsonObject ns)
    {
        ns["spec"] = new JsonObject { ["finalizers"] = new JsonArray("kubernetes") };
        ns["status"] = new JsonObject { ["phase"] = "Active" };
    }

    public static void DefaultNamespace(JsonObject ns)
    {
        var meta = Meta.Of(ns);
        var labels = meta["labels"] as JsonObject ?? new JsonObject();
        meta["labels"] = labels;
        labels["kubernetes.io/metadata.name"] = Meta.Name(ns);
    }

    public static void DefaultService(JsonObject svc, Func<string> allocateIp)
    {
        if (svc["spec"] is not JsonObject spec) return;
        spec["type"] ??= "ClusterIP";
        spec["sessionAffinity"] ??= "None";
        if (Meta.Str(spec["clusterIP"]).Length == 0) spec["clusterIP"] = allocateIp();
        if (spec["clusterIPs"] is null) spec["clusterIPs"] = new JsonArray(Meta.Str(spec["clusterIP"]));
        foreach (var port in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>())
        {
            port["protocol"] ??= "TCP";
            port["targetPort"] ??= port["port"]?.DeepClone();
        }
    }

    public static IEnumerable<FieldError> ValidateService(JsonObject svc, JsonObject? old)
    {
        var spec = svc["spec"] as JsonObject;
        var ports = spec?["ports"] as JsonArray ?? [];
        var headless = Meta.Str(spec?["clusterIP"]) == "None";
        if (ports.Count == 0 && !headless) yield return FieldError.Required("spec.ports");
        for (var i = 0; i < ports.Count; i++)
            if (ports[i]?["port"] is not JsonValue p || !p.TryGetValue<int>(out var n) || n is < 1 or > 65535)
                yield return FieldError.InvalidValue($"spec.ports[{i}].port", ports[i]?["port"], "must be between 1 and 65535, inclusive");
        if (old is not null && !Meta.Same(spec?["clusterIP"], old["spec"]?["clusterIP"]))
            yield return FieldError.Immutable("spec.clusterIP");
    }

    /// <summary>stringData is write-only: it is folded into data (base64) as the apiserver does.</summary>
    public static void DefaultSecret(JsonObject secret)
    {
        secret["type"] ??= "Opaque";
        if (secret["stringData"] is JsonObject stringData)
        {
            var data = secret["data"] as JsonObject ?? new JsonObject();
            foreach (var (k, v) in stringData) data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(Meta.Str(v)));
            secret["data"] = data;
            secret.Remove("stringData");
        }
    }

    public static IEnumerable<FieldError> ValidateSecret(JsonObject secret)
    {
        foreach (var (k, v) in secret["data"] as JsonObject ?? [])
        {
            var ok = v is JsonValue jv && jv.TryGetValue<string>(out var s) && IsBase64(s);
            if (!ok) yield return FieldError.InvalidValue($"data[{k}]", v, "illegal base64 data");
        }
    }

    public static IEnumerable<FieldError> ValidateConfigMap(JsonObject cm)
    {
        foreach (var (k, v) in cm["data"] as JsonObject ?? [])
            if (v is not JsonValue jv || !jv.TryGetValue<string>(out _))
                yield return FieldError.TypeInvalid($"data.{k}", v, "expected string");
    }

    static bool IsBase64(string s)
    {
        var buffer = new byte[s.Length];
        return Convert.TryFromBase64String(s, buffer, out _);
    }
}
