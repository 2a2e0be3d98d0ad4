using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Operator.Controllers;
using FastReid.Pipeline;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>
/// The real KubernetesClient against a scripted HTTP server: the request shapes the operator sends and the
/// way it reads lists, watch streams (bookmarks, 410 Gone as a Status event) and error codes.
/// </summary>
public sealed class ApiServerTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private readonly ConcurrentQueue<string> _requests = new();
    private Func<HttpContext, Task> _handler = _ => Task.CompletedTask;
    private Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(async context =>
        {
            string body = "";
            if (context.Request.ContentLength is > 0 || context.Request.Method is "POST" or "PUT" or "PATCH")
                body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            _requests.Enqueue($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString} {body}".TrimEnd());
            await _handler(context);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new Kubernetes(new KubernetesClientConfiguration { Host = address });
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static Task Json(HttpContext context, object body, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body as string ?? KubernetesJson.Serialize(body));
    }

    private static string Status(int code, string reason) =>
        $$"""{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"{{reason}}","code":{{code}},"message":"{{reason}}"}""";

    private static V1Job Job(string name, string version) => new()
    {
        ApiVersion = "batch/v1", Kind = "Job",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "team-a", ResourceVersion = version },
    };

    [Fact]
    public async Task Job_informer_follows_bookmarks_and_relists_after_a_410_status_event()
    {
        int lists = 0, watches = 0;
        _handler = async context =>
        {
            var query = context.Request.Query;
            if (query["watch"] != "true")
            {
                lists++;
                await Json(context, new V1JobList { ApiVersion = "batch/v1", Kind = "JobList", Metadata = new V1ListMeta { ResourceVersion = lists == 1 ? "10" : "30" },
                    Items = lists == 1 ? [Job("a", "9")] : [Job("a", "9"), Job("c", "29")] });
                return;
            }
            watches++;
            context.Response.ContentType = "application/json";
            if (watches == 1)
            {
                var lines = new StringBuilder();
                lines.Append("{\"type\":\"ADDED\",\"object\":").Append(KubernetesJson.Serialize(Job("b", "11"))).Append("}\n");
                lines.Append("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Job\",\"apiVersion\":\"batch/v1\",\"metadata\":{\"resourceVersion\":\"15\"}}}\n");
                await context.Response.WriteAsync(lines.ToString());
                await context.Response.WriteAsync("{\"type\":\"ERROR\",\"object\":" + Status(410, "Expired") + "}\n");
                return;
            }
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
        };
        var restarts = new ConcurrentQueue<string>();
        var informer = new Informer<V1Job>(new KubeSources(_client, "team-a").Jobs(), NullLogger.Instance, (_, reason) => restarts.Enqueue(reason));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = informer.RunAsync(cts.Token);
        for (int i = 0; i < 500 && watches < 2; i++) await Task.Delay(10);
        await cts.CancelAsync();
        await run;

        var requests = _requests.ToArray();
        Assert.StartsWith("GET /apis/batch/v1/namespaces/team-a/jobs?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dfastreid-operator", requests[0]);
        Assert.Contains("watch=true", requests[1]);
        Assert.Contains("allowWatchBookmarks=true", requests[1]);
        Assert.Contains("resourceVersion=10", requests[1]);
        Assert.DoesNotContain("watch=true", requests[2]); // relisted after 410
        Assert.Contains("resourceVersion=30", requests[3]);
        Assert.Equal(["expired"], restarts);
        Assert.Equal(["a", "c"], informer.Snapshot().Select(j => j.Metadata.Name).Order());
    }

    [Fact]
    public async Task Experiment_source_reads_custom_objects_cluster_wide()
    {
        _handler = context =>
        {
            if (context.Request.Query["watch"] == "true")
                return context.Response.WriteAsync("{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"fastreid.io/v1alpha1\",\"kind\":\"ReidExperiment\",\"metadata\":{\"name\":\"e1\",\"namespace\":\"n1\",\"resourceVersion\":\"8\"},\"status\":{\"phase\":\"Running\"}}}\n");
            return Json(context, """{"apiVersion":"fastreid.io/v1alpha1","kind":"ReidExperimentList","metadata":{"resourceVersion":"7"},"items":[{"apiVersion":"fastreid.io/v1alpha1","kind":"ReidExperiment","metadata":{"name":"e1","namespace":"n1","resourceVersion":"6"},"spec":{"dataset":{"name":"Synthetic"}}}]}""");
        };
        var source = new KubeSources(_client, null).CustomResources(ResourceKinds.ReidExperiment);
        var (items, version) = await source.ListAsync(default);
        Assert.Equal("7", version);
        Assert.Equal(new ObjectKey("n1", "e1"), source.KeyOf(Assert.Single(items)));
        var events = new List<WatchEvent<JsonObject>>();
        await foreach (var ev in source.Watch("7", default)) events.Add(ev);
        var modified = Assert.Single(events);
        Assert.Equal((WatchEventKind.Modified, "8"), (modified.Kind, modified.ResourceVersion));
        Assert.Equal("Running", modified.Object!["status"]!["phase"]!.GetValue<string>());
        Assert.StartsWith("GET /apis/fastreid.io/v1alpha1/reidexperiments?", _requests.ToArray()[1]);
    }

    [Fact]
    public async Task Cluster_api_treats_exists_and_not_found_as_done_and_conflicts_as_retry()
    {
        _handler = context => (context.Request.Method, context.Request.Path.Value) switch
        {
            ("GET", "/apis/fastreid.io/v1alpha1/namespaces/team-a/reidexperiments/missing") => Json(context, Status(404, "NotFound"), 404),
            ("GET", _) => Json(context, """{"apiVersion":"fastreid.io/v1alpha1","kind":"ReidExperiment","metadata":{"name":"e1","namespace":"team-a","resourceVersion":"5","uid":"u1","generation":2},"spec":{"dataset":{"name":"Synthetic"},"resources":{"cpu":4}}}"""),
            ("POST", _) => Json(context, Status(409, "AlreadyExists"), 409),
            ("DELETE", _) => Json(context, Status(404, "NotFound"), 404),
            ("PUT", _) => Json(context, Status(409, "Conflict"), 409),
            ("PATCH", _) => Json(context, KubernetesJson.Serialize(Job("j", "6"))),
            _ => Json(context, Status(400, "BadRequest"), 400),
        };
        var api = new KubernetesClusterApi(_client, "op-0");
        Assert.Null(await api.GetAsync<ReidExperiment>("team-a", "missing", default));
        var snapshot = (await api.GetAsync<ReidExperiment>("team-a", "e1", default))!;
        Assert.Equal(("u1", 2L, "4"), (snapshot.Resource.Metadata.Uid, snapshot.Resource.Metadata.Generation!.Value, snapshot.Resource.Spec.Resources.Cpu));
        Assert.False(await api.CreateAsync("team-a", Job("j", "1"), default));
        Assert.False(await api.DeleteAsync("team-a", new DeleteChild("batch/v1", "Job", "j"), default));
        await PlanApplier.ApplyAsync(api, new ObjectKey("team-a", "e1"), [new SetJobSuspend("j", true)], Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, default);
        await Assert.ThrowsAsync<ConflictException>(() => api.ReplaceStatusAsync(snapshot, new ReidExperimentStatus { Phase = Phases.Pending }, default));

        var requests = _requests.ToArray();
        Assert.Contains(requests, r => r.StartsWith("POST /apis/batch/v1/namespaces/team-a/jobs", StringComparison.Ordinal));
        Assert.Contains(requests, r => r.StartsWith("DELETE /apis/batch/v1/namespaces/team-a/jobs/j?propagationPolicy=Background", StringComparison.Ordinal));
        Assert.Contains(requests, r => r.StartsWith("PATCH /apis/batch/v1/namespaces/team-a/jobs/j", StringComparison.Ordinal) && r.EndsWith("{\"spec\":{\"suspend\":true}}", StringComparison.Ordinal));
        var put = Assert.Single(requests, r => r.StartsWith("PUT ", StringComparison.Ordinal));
        Assert.StartsWith("PUT /apis/fastreid.io/v1alpha1/namespaces/team-a/reidexperiments/e1/status", put);
        Assert.Contains("\"resourceVersion\":\"5\"", put); // guarded by the version read
        Assert.Contains("\"status\":{\"phase\":\"Pending\"}", put);
    }
}
