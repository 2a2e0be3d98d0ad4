using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace FastReid.KubeEmulator.Http;

/// <summary>Reading request bodies and writing JSON answers, Status errors and Warning headers.</summary>
internal static class HttpIo
{
    public static async Task WriteJson(HttpContext ctx, int code, JsonNode body, string contentType = "application/json")
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = contentType;
        await using var writer = new Utf8JsonWriter(ctx.Response.Body);
        body.WriteTo(writer);
        await writer.FlushAsync(ctx.RequestAborted);
    }

    public static Task WriteStatus(HttpContext ctx, ApiException error)
    {
        if (error.Code == 429) ctx.Response.Headers.RetryAfter = "1";
        return WriteJson(ctx, error.Code, error.ToStatus());
    }

    public static void AddWarnings(HttpContext ctx, IEnumerable<string> warnings)
    {
        foreach (var w in warnings)
            ctx.Response.Headers.Append("Warning", $"299 - \"{w.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
    }

    public static async Task<JsonNode?> ReadBody(HttpContext ctx)
    {
        if ((ctx.Request.ContentType ?? "").Contains("protobuf", StringComparison.OrdinalIgnoreCase))
        {
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
            return ProtobufBody.Decode(buffer.ToArray());
        }
        using var reader = new StreamReader(ctx.Request.Body);
        var text = await reader.ReadToEndAsync(ctx.RequestAborted);
        if (string.IsNullOrWhiteSpace(text)) return null;
        var type = ctx.Request.ContentType ?? "application/json";
        if (type.Contains("yaml", StringComparison.OrdinalIgnoreCase) && !text.TrimStart().StartsWith('{'))
            throw new ApiException(415, "UnsupportedMediaType", $"the emulator accepts JSON bodies only; got {type}");
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the request body is not valid JSON: {e.Message}");
        }
    }

    public static async Task<JsonObject> ReadObject(HttpContext ctx) =>
        await ReadBody(ctx) as JsonObject ?? throw ApiException.BadRequest("the request body must be a JSON object");

    public static bool WantsTable(HttpContext ctx) =>
        ctx.Request.Headers.Accept.Any(a => a is not null && a.Contains("as=Table", StringComparison.Ordinal));
}
