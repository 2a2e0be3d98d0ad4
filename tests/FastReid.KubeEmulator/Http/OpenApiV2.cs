using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Schema;
using FastReid.KubeEmulator.Storage;
using Microsoft.AspNetCore.Http;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// <c>/openapi/v2</c>: kubectl fetches it (as protobuf) to validate the items of a <c>v1 List</c> before
/// applying them, and to look for patch metadata when it patches a built-in kind. Content negotiation
/// follows kube-openapi's handler: JSON for <c>application/json</c> or <c>*/*</c>, protobuf for either
/// protobuf media type, 406 otherwise. What the document holds is explained in <see cref="OpenApiV2Schemas"/>.
/// </summary>
internal static class OpenApiV2
{
    const string ProtobufDeprecated = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
    const string Protobuf = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

    public static async Task Serve(HttpContext ctx, ResourceCatalog catalog)
    {
        ctx.Response.Headers.Vary = "Accept";
        var accept = string.Join(",", ctx.Request.Headers.Accept.ToArray());
        foreach (var clause in (accept.Length == 0 ? "*/*" : accept).Split(','))
        {
            var mediaType = clause.Split(';')[0].Trim();
            if (mediaType is "application/json" or "application/*" or "*/*")
            {
                await HttpIo.WriteJson(ctx, 200, Document(catalog));
                return;
            }
            if (mediaType is ProtobufDeprecated or Protobuf)
            {
                var body = OpenApiV2Protobuf.Encode(Document(catalog));
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = Protobuf;
                await ctx.Response.Body.WriteAsync(body, ctx.RequestAborted);
                return;
            }
        }
        ctx.Response.StatusCode = 406;
    }

    static JsonObject Document(ResourceCatalog catalog) => new()
    {
        ["swagger"] = "2.0",
        ["info"] = new JsonObject { ["title"] = "Kubernetes (fastreid kube-emulator)", ["version"] = "v1.32.0" },
        ["paths"] = new JsonObject(),
        ["definitions"] = OpenApiV2Schemas.Definitions(catalog.All),
    };
}
