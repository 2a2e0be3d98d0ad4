using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Tests;

/// <summary>
/// Just enough of an API server for the operator host: N experiments (exp1..expN), empty child lists, watches
/// that stay open, creates stored by name (a second create of a name is 409 AlreadyExists), status PUTs
/// recorded, and Leases stored with resourceVersion checks.
/// </summary>
internal sealed class ScriptedApiServer : IAsyncDisposable
{
    public const string Experiment = """
        {"apiVersion":"fastreid.io/v1alpha1","kind":"ReidExperiment",
         "metadata":{"name":"exp1","namespace":"team-a","uid":"u-1","generation":1,"resourceVersion":"3"},
         "spec":{"dataset":{"name":"Synthetic"},"resources":{"nodes":2,"gpusPerNode":4},"output":{"uri":"s3://models/exp1","secretRef":{"name":"s3"}}}}
        """;

    private readonly WebApplication _app;
    private readonly object _leaseGate = new();
    private readonly Dictionary<string, JsonObject> _leases = [];
    private long _version = 100;

    public ConcurrentQueue<string> Posts { get; } = new();
    /// <summary>Objects created, by "path/name": how many creates succeeded (201) for each.</summary>
    public ConcurrentDictionary<string, int> Created { get; } = new();
    public int AlreadyExists;
    public int ExperimentCount { get; init; } = 1;
    public ConcurrentQueue<string> StatusPuts { get; } = new();
    public string Address { get; private set; } = "";

    private ScriptedApiServer(WebApplication app, int experiments) => (_app, ExperimentCount) = (app, experiments);

    public static string ExperimentNamed(string name) => Experiment.Replace("\"exp1\"", $"\"{name}\"", StringComparison.Ordinal)
        .Replace("\"u-1\"", $"\"u-{name}\"", StringComparison.Ordinal).Replace("models/exp1", $"models/{name}", StringComparison.Ordinal);

    public static async Task<ScriptedApiServer> StartAsync(int experiments = 1)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var server = new ScriptedApiServer(builder.Build(), experiments);
        server._app.Run(server.HandleAsync);
        await server._app.StartAsync();
        server.Address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value!;
        context.Response.ContentType = "application/json";
        if (context.Request.Query["watch"] == "true")
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
            return;
        }
        var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
        if (path.StartsWith("/apis/coordination.k8s.io/v1/", StringComparison.Ordinal))
        {
            await LeaseAsync(context, path, body);
            return;
        }
        switch (context.Request.Method)
        {
            case "GET" when path == "/apis/fastreid.io/v1alpha1/reidexperiments":
                var items = string.Join(",", Enumerable.Range(1, ExperimentCount).Select(i => ExperimentNamed($"exp{i}")));
                await context.Response.WriteAsync($$"""{"apiVersion":"fastreid.io/v1alpha1","kind":"ReidExperimentList","metadata":{"resourceVersion":"3"},"items":[{{items}}]}""");
                break;
            case "GET" when path.StartsWith("/apis/fastreid.io/v1alpha1/namespaces/team-a/reidexperiments/exp", StringComparison.Ordinal):
                var name = path[(path.LastIndexOf('/') + 1)..];
                if (int.TryParse(name[3..], out var n) && n >= 1 && n <= ExperimentCount)
                {
                    await context.Response.WriteAsync(ExperimentNamed(name));
                }
                else
                {
                    context.Response.StatusCode = 404;
                    await context.Response.WriteAsync(NotFound());
                }
                break;
            case "GET":
                await context.Response.WriteAsync("""{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"3"},"items":[]}""");
                break;
            case "POST":
                Posts.Enqueue(path);
                var objectName = JsonNode.Parse(body)?["metadata"]?["name"]?.GetValue<string>();
                if (objectName is not null && !Created.TryAdd($"{path}/{objectName}", 1))
                {
                    Interlocked.Increment(ref AlreadyExists);
                    context.Response.StatusCode = 409;
                    await context.Response.WriteAsync("""{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"AlreadyExists","code":409}""");
                    break;
                }
                context.Response.StatusCode = 201;
                await context.Response.WriteAsync(body);
                break;
            case "PUT":
                StatusPuts.Enqueue(body);
                await context.Response.WriteAsync(body);
                break;
            default:
                context.Response.StatusCode = 405;
                break;
        }
    }

    private async Task LeaseAsync(HttpContext context, string path, string body)
    {
        int status;
        string reply;
        lock (_leaseGate)
        {
            var name = path.EndsWith("/leases", StringComparison.Ordinal)
                ? JsonNode.Parse(body)!["metadata"]!["name"]!.GetValue<string>()
                : path[(path.LastIndexOf('/') + 1)..];
            _leases.TryGetValue(name, out var current);
            switch (context.Request.Method)
            {
                case "GET":
                    (status, reply) = current is null ? (404, NotFound()) : (200, current.ToJsonString());
                    break;
                case "POST" when current is null:
                case "PUT" when current is not null && JsonNode.Parse(body)!["metadata"]!["resourceVersion"]?.GetValue<string>() == current["metadata"]!["resourceVersion"]!.GetValue<string>():
                    var stored = JsonNode.Parse(body)!.AsObject();
                    stored["metadata"]!["resourceVersion"] = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    _leases[name] = stored;
                    (status, reply) = (context.Request.Method == "POST" ? 201 : 200, stored.ToJsonString());
                    break;
                default:
                    (status, reply) = (409, """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409}""");
                    break;
            }
        }
        context.Response.StatusCode = status;
        await context.Response.WriteAsync(reply);
    }

    private static string NotFound() => """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}""";

    public string? LeaseHolder(string name)
    {
        lock (_leaseGate)
            return _leases.TryGetValue(name, out var lease) ? lease["spec"]?["holderIdentity"]?.GetValue<string>() : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
