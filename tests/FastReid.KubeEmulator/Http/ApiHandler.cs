using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;
using Microsoft.AspNetCore.Http;

namespace FastReid.KubeEmulator.Http;

/// <summary>Routes one HTTP request to discovery, OpenAPI, or a resource verb, and turns errors into Status objects.</summary>
internal sealed class ApiHandler(ApiOperations ops, KubeFaults faults, WatchStream watches, Func<CancellationToken> serverStopping)
{
    ResourceCatalog Catalog => ops.Catalog;

    public async Task Handle(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        try
        {
            if (faults.TakeFailure(ctx.Request.Method, path) is { } injected) throw injected;
            if (await TryDiscovery(ctx, path)) return;
            var target = ResourcePath.Parse(path) ?? throw ApiException.NotFoundPath($"the server could not find the requested resource ({ctx.Request.Method} {path})");
            await HandleResource(ctx, target);
        }
        catch (ApiException e)
        {
            if (!ctx.Response.HasStarted) await HttpIo.WriteStatus(ctx, e);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidCastException or ArgumentException)
        {
            // A body of the wrong shape (a string where an object belongs): answer as the apiserver's decoder would.
            if (!ctx.Response.HasStarted) await HttpIo.WriteStatus(ctx, ApiException.BadRequest($"unable to decode the request: {e.Message}"));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An emulator bug must surface in the test that hit it, as a Status a client can print, not as an empty 500.
            Console.Error.WriteLine($"kube-emulator: {ctx.Request.Method} {path} failed: {e}");
            if (!ctx.Response.HasStarted)
                await HttpIo.WriteStatus(ctx, new ApiException(500, "InternalError", $"Internal error occurred: kube-emulator: {e.GetType().Name}: {e.Message}"));
        }
    }

    async Task<bool> TryDiscovery(HttpContext ctx, string path)
    {
        if (ctx.Request.Method != "GET") return false;
        var accept = string.Join(",", ctx.Request.Headers.Accept.ToArray());
        var aggregated = accept.Contains("as=APIGroupDiscoveryList", StringComparison.Ordinal) && accept.Contains("v=v2", StringComparison.Ordinal)
            && accept.Contains("g=apidiscovery.k8s.io", StringComparison.Ordinal);
        switch (path.TrimEnd('/'))
        {
            case "/version": await HttpIo.WriteJson(ctx, 200, Discovery.Version()); return true;
            case "/healthz" or "/readyz" or "/livez":
                ctx.Response.ContentType = "text/plain";
                await ctx.Response.WriteAsync("ok");
                return true;
            case "/api":
                if (aggregated) await HttpIo.WriteJson(ctx, 200, Discovery.Aggregated(Catalog, core: true), Discovery.AggregatedContentType);
                else await HttpIo.WriteJson(ctx, 200, Discovery.CoreVersions($"{ctx.Request.Host}"));
                return true;
            case "/apis":
                if (aggregated) await HttpIo.WriteJson(ctx, 200, Discovery.Aggregated(Catalog, core: false), Discovery.AggregatedContentType);
                else await HttpIo.WriteJson(ctx, 200, Discovery.Groups(Catalog));
                return true;
        }
        if (path.StartsWith("/openapi/", StringComparison.Ordinal))
        {
            await OpenApi.Serve(ctx, path, Catalog);
            return true;
        }
        var parts = path.Trim('/').Split('/');
        JsonObject? doc = parts switch
        {
            ["api", var v] => Discovery.Resources(Catalog, "", v),
            ["apis", var g] => Discovery.Group(Catalog, g),
            ["apis", var g, var v] => Discovery.Resources(Catalog, g, v),
            _ => null,
        };
        if (doc is null)
        {
            if (parts is ["api", _] or ["apis", _] or ["apis", _, _])
                throw ApiException.NotFoundPath($"the server could not find the requested resource");
            return false;
        }
        await HttpIo.WriteJson(ctx, 200, doc);
        return true;
    }

    async Task HandleResource(HttpContext ctx, ResourcePath target)
    {
        var type = Catalog.Find(target.Group, target.Version, target.Resource)
            ?? throw ApiException.NotFoundPath($"the server could not find the requested resource");
        if (target.Namespace is not null && !type.Namespaced) throw ApiException.NotFoundPath("the server could not find the requested resource");
        if (target.Subresource is not null && !(target.Subresource == "status" && type.HasStatusSubresource))
            throw ApiException.NotFoundPath($"the server could not find the requested resource ({target.Resource}/{target.Subresource})");
        var ns = type.Namespaced ? target.Namespace ?? "" : "";
        var q = ctx.Request.Query;
        var statusWrite = target.Subresource == "status";
        var dryRun = q["dryRun"].Count > 0;
        var fieldValidation = q["fieldValidation"].ToString() switch
        {
            "Strict" => FieldValidation.Strict,
            "Ignore" => FieldValidation.Ignore,
            _ => FieldValidation.Warn,
        };
        var isWatch = q["watch"].ToString() is "true" or "1";
        switch (ctx.Request.Method)
        {
            case "GET" when isWatch:
            {
                var fields = FieldSelector.Parse(Combine(q["fieldSelector"], target.Name is null ? null : $"metadata.name={target.Name}"), type);
                var request = new WatchRequest(type, target.Namespace is null && type.Namespaced ? null : ns, LabelSelector.Parse(q["labelSelector"]),
                    fields, q["resourceVersion"].FirstOrDefault(), int.TryParse(q["timeoutSeconds"], out var t) ? t : null,
                    q["allowWatchBookmarks"].ToString() is "true" or "1", q["sendInitialEvents"].ToString() == "true", HttpIo.WantsTable(ctx));
                await watches.Serve(ctx, request, serverStopping());
                return;
            }
            case "GET" when target.Name is null:
                await List(ctx, type, target.Namespace is null && type.Namespaced ? null : ns);
                return;
            case "GET":
            {
                var obj = AtVersion(type, ops.Get(type, ns, target.Name));
                if (HttpIo.WantsTable(ctx))
                    await HttpIo.WriteJson(ctx, 200, TableWriter.Table(type, [obj], Meta.ResourceVersion(obj), q["includeObject"]));
                else await HttpIo.WriteJson(ctx, 200, obj);
                return;
            }
            case "POST" when target.Name is null:
                if (type.Namespaced && target.Namespace is null) throw ApiException.MethodNotAllowed("the server does not allow this method on the requested resource");
                await Answer(ctx, type, ops.Create(type, ns, await HttpIo.ReadObject(ctx), fieldValidation, dryRun));
                return;
            case "PUT" when target.Name is not null:
                await Answer(ctx, type, ops.Update(type, ns, target.Name, await HttpIo.ReadObject(ctx), statusWrite, fieldValidation, dryRun));
                return;
            case "PATCH" when target.Name is not null:
            {
                var contentType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
                var patch = await HttpIo.ReadBody(ctx);
                await Answer(ctx, type, ops.Patch(type, ns, target.Name, contentType, patch, statusWrite, fieldValidation, dryRun));
                return;
            }
            case "DELETE" when target.Name is not null && !statusWrite:
                await Answer(ctx, type, ops.Delete(type, ns, target.Name, await ReadDeleteOptions(ctx)));
                return;
            case "DELETE" when target.Name is null:
                await DeleteCollection(ctx, type, ns);
                return;
            default:
                throw ApiException.MethodNotAllowed("the server does not allow this method on the requested resource");
        }
    }

    async Task List(HttpContext ctx, ResourceType type, string? ns)
    {
        var q = ctx.Request.Query;
        var (items, revision) = ops.List(type, ns, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"], type));
        var start = 0;
        if (q["continue"].ToString() is { Length: > 0 } token)
        {
            var after = DecodeContinue(token);
            start = items.FindIndex(o => string.CompareOrdinal(SortKey(o), after) > 0);
            if (start < 0) start = items.Count;
        }
        string? next = null;
        var page = items.Skip(start).ToList();
        if (int.TryParse(q["limit"], out var limit) && limit > 0 && page.Count > limit)
        {
            page = page.Take(limit).ToList();
            next = Convert.ToBase64String(Encoding.UTF8.GetBytes(SortKey(page[^1])));
        }
        var versioned = page.Select(o => AtVersion(type, o)).ToList();
        if (HttpIo.WantsTable(ctx))
        {
            await HttpIo.WriteJson(ctx, 200, TableWriter.Table(type, versioned, revision, q["includeObject"], next));
            return;
        }
        var metadata = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) };
        if (next is not null) metadata["continue"] = next;
        var list = new JsonObject
        {
            ["kind"] = type.ListKind, ["apiVersion"] = type.ApiVersion, ["metadata"] = metadata,
            ["items"] = new JsonArray(versioned.Select(o => (JsonNode)o.DeepClone()).ToArray()),
        };
        await HttpIo.WriteJson(ctx, 200, list);
    }

    async Task DeleteCollection(HttpContext ctx, ResourceType type, string ns)
    {
        var q = ctx.Request.Query;
        var options = await ReadDeleteOptions(ctx);
        var (items, revision) = ops.List(type, type.Namespaced ? ns : null, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"], type));
        var warnings = new List<string>();
        var deleted = new JsonArray();
        foreach (var item in items)
        {
            try
            {
                var result = ops.Delete(type, Meta.Namespace(item), Meta.Name(item), options);
                warnings.AddRange(result.Warnings);
                deleted.Add(AtVersion(type, result.Object).DeepClone());
            }
            catch (ApiException e) when (e.Code == 404) { }
        }
        HttpIo.AddWarnings(ctx, warnings.Distinct());
        await HttpIo.WriteJson(ctx, 200, new JsonObject
        {
            ["kind"] = type.ListKind, ["apiVersion"] = type.ApiVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) }, ["items"] = deleted,
        });
    }

    static async Task<DeleteOptions> ReadDeleteOptions(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        var body = await HttpIo.ReadBody(ctx) as JsonObject;
        var policy = Meta.Str(body?["propagationPolicy"]) is { Length: > 0 } p ? p : q["propagationPolicy"].FirstOrDefault();
        if (policy is null && body?["orphanDependents"] is JsonValue o && o.TryGetValue<bool>(out var orphan))
            policy = orphan ? "Orphan" : "Background";
        if (policy is null && q["orphanDependents"].ToString() is "true" or "false")
            policy = q["orphanDependents"] == "true" ? "Orphan" : "Background";
        var dryRun = q["dryRun"].Count > 0 || body?["dryRun"] is JsonArray { Count: > 0 };
        return new DeleteOptions(policy, Meta.Str(body?["preconditions"]?["uid"]), Meta.Str(body?["preconditions"]?["resourceVersion"]), dryRun);
    }

    static async Task Answer(HttpContext ctx, ResourceType type, WriteResult result)
    {
        HttpIo.AddWarnings(ctx, result.Warnings);
        await HttpIo.WriteJson(ctx, result.Code, AtVersion(type, result.Object));
    }

    /// <summary>Objects are stored once per resource; a CRD's other served versions see them with their own apiVersion.</summary>
    public static JsonObject AtVersion(ResourceType type, JsonObject obj)
    {
        if (Meta.Str(obj["apiVersion"]) == type.ApiVersion) return obj;
        var copy = obj.DeepClone().AsObject();
        copy["apiVersion"] = type.ApiVersion;
        return copy;
    }

    static string SortKey(JsonObject o) => Meta.Namespace(o) + "/" + Meta.Name(o);

    static string DecodeContinue(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(token));
        }
        catch (FormatException)
        {
            throw ApiException.BadRequest("invalid continue token");
        }
    }

    static string? Combine(string? a, string? b) =>
        string.IsNullOrEmpty(a) ? b : string.IsNullOrEmpty(b) ? a : a + "," + b;
}
