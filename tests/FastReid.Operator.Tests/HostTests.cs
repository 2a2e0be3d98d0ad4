using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using FastReid.Operator.Hosting;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>The whole operator in-process (informers, queue, controller, web endpoints) against a scripted API server.</summary>
public sealed class HostTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private const string Experiment = """
        {"apiVersion":"fastreid.io/v1alpha1","kind":"ReidExperiment",
         "metadata":{"name":"exp1","namespace":"team-a","uid":"u-1","generation":1,"resourceVersion":"3"},
         "spec":{"dataset":{"name":"Synthetic"},"resources":{"nodes":2,"gpusPerNode":4},"output":{"uri":"s3://models/exp1","secretRef":{"name":"s3"}}}}
        """;

    [Fact]
    public async Task The_operator_creates_the_children_writes_status_and_serves_health_and_metrics()
    {
        var posts = new ConcurrentQueue<string>();
        var statusPuts = new ConcurrentQueue<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var server = builder.Build();
        server.Run(async context =>
        {
            var path = context.Request.Path.Value!;
            context.Response.ContentType = "application/json";
            if (context.Request.Query["watch"] == "true")
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
                return;
            }
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            switch (context.Request.Method)
            {
                case "GET" when path == "/apis/fastreid.io/v1alpha1/reidexperiments":
                    await context.Response.WriteAsync($$"""{"apiVersion":"fastreid.io/v1alpha1","kind":"ReidExperimentList","metadata":{"resourceVersion":"3"},"items":[{{Experiment}}]}""");
                    break;
                case "GET" when path == "/apis/fastreid.io/v1alpha1/namespaces/team-a/reidexperiments/exp1":
                    await context.Response.WriteAsync(Experiment);
                    break;
                case "GET":
                    await context.Response.WriteAsync("""{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"3"},"items":[]}""");
                    break;
                case "POST":
                    posts.Enqueue(path);
                    context.Response.StatusCode = 201;
                    await context.Response.WriteAsync(body);
                    break;
                case "PUT":
                    statusPuts.Enqueue(body);
                    await context.Response.WriteAsync(body);
                    break;
                default:
                    context.Response.StatusCode = 405;
                    break;
            }
        });
        await server.StartAsync();
        var address = server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var port = FreePort();
        var options = OperatorOptions.Parse(["--leader-elect=false", "--metrics-address", "127.0.0.1", "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], _ => null);
        using var client = new Kubernetes(new KubernetesClientConfiguration { Host = address });
        var host = new OperatorHost(options, client, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var running = host.RunAsync(stop.Token);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        const string reconciled = "fastreid_operator_reconciles_total{kind=\"ReidExperiment\",result=\"success\"} 1";
        var metrics = "";
        // The counter moves after the status write and the events: wait for it, not for the write.
        for (int i = 0; i < 1000 && !metrics.Contains(reconciled, StringComparison.Ordinal); i++)
        {
            await Task.Delay(20);
            try { metrics = await http.GetStringAsync("/metrics"); } catch (HttpRequestException) { }
        }
        var healthz = await http.GetAsync("/healthz");
        var readyz = await http.GetAsync("/readyz");
        await stop.CancelAsync();
        Assert.Equal(0, await running);

        Assert.Equal(
            ["/api/v1/namespaces/team-a/configmaps", "/api/v1/namespaces/team-a/services", "/apis/batch/v1/namespaces/team-a/jobs"],
            posts.ToArray().Where(p => !p.EndsWith("/events", StringComparison.Ordinal)));
        Assert.Contains("/api/v1/namespaces/team-a/events", posts);
        var status = JsonNode.Parse(statusPuts.First())!["status"]!;
        Assert.Equal("Pending", status["phase"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
        Assert.Contains(reconciled, metrics);
        Assert.Contains("fastreid_operator_resources{kind=\"ReidExperiment\",phase=\"Unknown\"} 1", metrics);
    }

    [Fact]
    public async Task Without_an_api_server_it_stays_alive_unready_and_counts_list_errors()
    {
        var port = FreePort();
        var options = OperatorOptions.Parse(["--leader-elect=false", "--metrics-address", "127.0.0.1", "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], _ => null);
        using var client = new Kubernetes(new KubernetesClientConfiguration { Host = $"http://127.0.0.1:{FreePort()}" });
        var host = new OperatorHost(options, client, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var running = host.RunAsync(stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        HttpResponseMessage? healthz = null;
        for (int i = 0; i < 200 && healthz is null; i++)
        {
            try { healthz = await http.GetAsync("/healthz"); } catch (HttpRequestException) { await Task.Delay(20); }
        }
        await Task.Delay(300);
        var readyz = await http.GetAsync("/readyz");
        var metrics = await http.GetStringAsync("/metrics");
        await stop.CancelAsync();
        Assert.Equal(0, await running);
        Assert.Equal(HttpStatusCode.OK, healthz!.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz.StatusCode);
        Assert.Contains("fastreid_operator_watch_restarts_total{kind=\"Job\",reason=\"list-error\"}", metrics);
    }
}
