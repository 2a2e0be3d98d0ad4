using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// The discovery documents: /version, legacy /api and /apis with per-group-version resource lists, and
/// aggregated discovery (apidiscovery.k8s.io/v2) that kubectl 1.32 asks for first.
/// </summary>
internal static class Discovery
{
    public const string AggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

    public static JsonObject Version() => new()
    {
        ["major"] = "1",
        ["minor"] = "32",
        ["gitVersion"] = "v1.32.0-fastreid-emulator",
        ["gitCommit"] = "0000000000000000000000000000000000000000",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2026-01-01T00:00:00Z",
        ["goVersion"] = "go1.23.0",
        ["compiler"] = "gc",
        ["platform"] = "linux/amd64",
    };

    public static JsonObject CoreVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    public static JsonObject Groups(ResourceCatalog catalog)
    {
        var groups = new JsonArray();
        foreach (var (group, versions) in catalog.Groups().Where(g => g.Group.Length > 0))
        {
            var vs = new JsonArray(versions.Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{group}/{v}", ["version"] = v }).ToArray());
            groups.Add(new JsonObject
            {
                ["name"] = group,
                ["versions"] = vs,
                ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{group}/{versions[0]}", ["version"] = versions[0] },
            });
        }
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    public static JsonObject? Group(ResourceCatalog catalog, string group)
    {
        var match = catalog.Groups().FirstOrDefault(g => g.Group == group);
        if (match.Versions is null) return null;
        var vs = new JsonArray(match.Versions.Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{group}/{v}", ["version"] = v }).ToArray());
        return new JsonObject
        {
            ["kind"] = "APIGroup", ["apiVersion"] = "v1", ["name"] = group, ["versions"] = vs,
            ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{group}/{match.Versions[0]}", ["version"] = match.Versions[0] },
        };
    }

    /// <summary>APIResourceList for one group/version, or null when that group/version is not served.</summary>
    public static JsonObject? Resources(ResourceCatalog catalog, string group, string version)
    {
        var types = catalog.All.Where(t => t.Group == group && t.Version == version).ToList();
        if (types.Count == 0) return null;
        var resources = new JsonArray();
        foreach (var t in types)
        {
            var r = new JsonObject
            {
                ["name"] = t.Plural, ["singularName"] = t.Singular, ["namespaced"] = t.Namespaced, ["kind"] = t.Kind,
                ["verbs"] = Strings(ResourceType.AllVerbs),
            };
            if (t.ShortNames.Count > 0) r["shortNames"] = Strings(t.ShortNames);
            if (t.Categories.Count > 0) r["categories"] = Strings(t.Categories);
            resources.Add(r);
            if (t.HasStatusSubresource)
                resources.Add(new JsonObject
                {
                    ["name"] = t.Plural + "/status", ["singularName"] = "", ["namespaced"] = t.Namespaced, ["kind"] = t.Kind,
                    ["verbs"] = Strings(["get", "patch", "update"]),
                });
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList", ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}", ["resources"] = resources,
        };
    }

    /// <summary>apidiscovery.k8s.io/v2 APIGroupDiscoveryList for /api (core only) or /apis (all named groups).</summary>
    public static JsonObject Aggregated(ResourceCatalog catalog, bool core)
    {
        var items = new JsonArray();
        foreach (var (group, versions) in catalog.Groups().Where(g => (g.Group.Length == 0) == core))
        {
            var vs = new JsonArray();
            foreach (var v in versions)
            {
                var resources = new JsonArray();
                foreach (var t in catalog.All.Where(t => t.Group == group && t.Version == v))
                {
                    var kind = new JsonObject { ["group"] = group, ["version"] = v, ["kind"] = t.Kind };
                    var r = new JsonObject
                    {
                        ["resource"] = t.Plural, ["responseKind"] = kind, ["scope"] = t.Namespaced ? "Namespaced" : "Cluster",
                        ["singularResource"] = t.Singular, ["verbs"] = Strings(ResourceType.AllVerbs),
                    };
                    if (t.ShortNames.Count > 0) r["shortNames"] = Strings(t.ShortNames);
                    if (t.Categories.Count > 0) r["categories"] = Strings(t.Categories);
                    if (t.HasStatusSubresource)
                        r["subresources"] = new JsonArray(new JsonObject
                        {
                            ["subresource"] = "status", ["responseKind"] = kind.DeepClone(), ["verbs"] = Strings(["get", "patch", "update"]),
                        });
                    resources.Add(r);
                }
                vs.Add(new JsonObject { ["version"] = v, ["resources"] = resources, ["freshness"] = "Current" });
            }
            items.Add(new JsonObject { ["metadata"] = new JsonObject { ["name"] = group }, ["versions"] = vs });
        }
        return new JsonObject
        {
            ["kind"] = "APIGroupDiscoveryList", ["apiVersion"] = "apidiscovery.k8s.io/v2", ["metadata"] = new JsonObject(), ["items"] = items,
        };
    }

    static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());
}
