using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Schema;
using FastReid.KubeEmulator.Storage;
using Microsoft.AspNetCore.Http;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// OpenAPI v3, just enough to tell kubectl the truth about this server: every PATCH operation takes
/// the <c>fieldValidation</c> query parameter, so kubectl's default <c>--validate=strict</c> leaves
/// unknown-field checks to the server (we prune/reject by CRD schema). PATCH bodies list JSON and
/// merge patch only, so for built-in kinds kubectl builds strategic merge patches from its compiled-in
/// types, exactly as it does against any server that does not publish strategic-merge metadata.
/// CRD schemas are published as components so <c>kubectl explain</c> works for custom resources.
/// OpenAPI v2, which kubectl still reads to validate the items of a List, is <see cref="OpenApiV2"/>.
/// </summary>
internal static class OpenApi
{
    public static async Task Serve(HttpContext ctx, string path, ResourceCatalog catalog)
    {
        var rest = path["/openapi/".Length..].Trim('/');
        if (rest == "v2")
        {
            await OpenApiV2.Serve(ctx, catalog);
            return;
        }
        if (rest == "v3")
        {
            var paths = new JsonObject();
            foreach (var gv in catalog.All.Select(t => (t.Group, t.Version)).Distinct())
            {
                var key = GroupVersionPath(gv.Group, gv.Version);
                var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Document(catalog, gv.Group, gv.Version).ToJsonString())))[..32];
                paths[key] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{key}?hash={hash}" };
            }
            await HttpIo.WriteJson(ctx, 200, new JsonObject { ["paths"] = paths });
            return;
        }
        if (rest.StartsWith("v3/", StringComparison.Ordinal))
        {
            var parts = rest["v3/".Length..].Split('/');
            (string Group, string Version)? gv = parts switch
            {
                ["api", var v] => ("", v),
                ["apis", var g, var v] => (g, v),
                _ => null,
            };
            if (gv is { } found && catalog.All.Any(t => t.Group == found.Group && t.Version == found.Version))
            {
                ctx.Response.Headers.CacheControl = "public, immutable";
                await HttpIo.WriteJson(ctx, 200, Document(catalog, found.Group, found.Version));
                return;
            }
        }
        throw ApiException.NotFoundPath("the server could not find the requested resource");
    }

    static string GroupVersionPath(string group, string version) => group.Length == 0 ? $"api/{version}" : $"apis/{group}/{version}";

    static JsonObject Document(ResourceCatalog catalog, string group, string version)
    {
        var paths = new JsonObject();
        var schemas = new JsonObject();
        foreach (var t in catalog.All.Where(t => t.Group == group && t.Version == version))
        {
            var schemaName = SchemaName(t);
            var schema = t.Schema?.DeepClone().AsObject() ?? new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
            schema["x-kubernetes-group-version-kind"] = new JsonArray(Gvk(t));
            schemas[schemaName] = schema;
            var prefix = "/" + GroupVersionPath(group, version) + (t.Namespaced ? "/namespaces/{namespace}" : "");
            var reference = new JsonObject { ["$ref"] = $"#/components/schemas/{schemaName}" };
            paths[$"{prefix}/{t.Plural}"] = new JsonObject
            {
                ["get"] = Operation(t, "list", reference, []),
                ["post"] = Operation(t, "create", reference, ["application/json"]),
            };
            paths[$"{prefix}/{t.Plural}/{{name}}"] = new JsonObject
            {
                ["get"] = Operation(t, "get", reference, []),
                ["put"] = Operation(t, "update", reference, ["application/json"]),
                ["patch"] = Operation(t, "patch", reference, ["application/json-patch+json", "application/merge-patch+json"]),
                ["delete"] = Operation(t, "delete", reference, []),
            };
            if (t.HasStatusSubresource)
                paths[$"{prefix}/{t.Plural}/{{name}}/status"] = new JsonObject
                {
                    ["get"] = Operation(t, "get", reference, []),
                    ["put"] = Operation(t, "update", reference, ["application/json"]),
                    ["patch"] = Operation(t, "patch", reference, ["application/json-patch+json", "application/merge-patch+json"]),
                };
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes (fastreid kube-emulator)", ["version"] = "v1.32.0" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }

    static JsonObject Operation(ResourceType t, string action, JsonObject reference, IReadOnlyList<string> bodyTypes)
    {
        var parameters = new JsonArray();
        if (action is "create" or "update" or "patch")
        {
            parameters.Add(Query("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict."));
            parameters.Add(Query("dryRun", "When present, indicates that modifications should not be persisted."));
            parameters.Add(Query("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."));
        }
        if (action is "list")
            foreach (var p in new[] { "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch", "timeoutSeconds", "allowWatchBookmarks" })
                parameters.Add(Query(p, p));
        var op = new JsonObject
        {
            ["operationId"] = $"{action}{t.Kind}",
            ["parameters"] = parameters,
            ["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "OK",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = reference.DeepClone() } },
                },
            },
            ["x-kubernetes-action"] = action == "create" ? "post" : action == "update" ? "put" : action,
            ["x-kubernetes-group-version-kind"] = Gvk(t),
        };
        if (bodyTypes.Count > 0)
        {
            var content = new JsonObject();
            foreach (var b in bodyTypes)
                content[b] = new JsonObject { ["schema"] = b == "application/json" ? reference.DeepClone() : new JsonObject { ["type"] = "object" } };
            op["requestBody"] = new JsonObject { ["content"] = content, ["required"] = true };
        }
        return op;
    }

    static JsonObject Query(string name, string description) => new()
    {
        ["name"] = name, ["in"] = "query", ["description"] = description,
        ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true },
    };

    static JsonObject Gvk(ResourceType t) => new() { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind };

    static string SchemaName(ResourceType t)
    {
        if (t.IsCustom) return OpenApiV2Schemas.Name(t, t.Kind);
        var group = t.Group.Length == 0 ? "core" : string.Join('.', t.Group.Split('.').Reverse());
        return $"io.k8s.api.{group.Split('.')[0]}.{t.Version}.{t.Kind}";
    }
}
