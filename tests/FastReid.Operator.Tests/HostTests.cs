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
    /// <summary>A port nothing listens on now (the tests' servers bind to it next).</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static OperatorOptions Options(int port, params string[] extra) =>
        OperatorOptions.Parse(["--metrics-address", "127.0.0.1", "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra], _ => null);

    private static async Task<string> WaitForMetric(HttpClient http, string line)
    {
        var metrics = "";
        for (int i = 0; i < 1000 && !metrics.Contains(line, StringComparison.Ordinal); i++)
        {
            await Task.Delay(20);
            try { metrics = await http.GetStringAsync("/metrics"); } catch (HttpRequestException) { }
        }
        return metrics;
    }

    [Fact]
    public async Task The_operator_creates_the_children_writes_status_and_serves_health_and_metrics()
    {
        await using var server = await ScriptedApiServer.StartAsync();
        var port = FreePort();
        using var client = new Kubernetes(new KubernetesClientConfiguration { Host = server.Address });
        var host = new OperatorHost(Options(port, "--leader-elect=false"), client, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var running = host.RunAsync(stop.Token);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        const string reconciled = "fastreid_operator_reconciles_total{kind=\"ReidExperiment\",result=\"success\"} 1";
        // The counter moves after the status write and the events: wait for it, not for the write.
        var metrics = await WaitForMetric(http, reconciled);
        var healthz = await http.GetAsync("/healthz");
        var readyz = await http.GetAsync("/readyz");
        await stop.CancelAsync();
        Assert.Equal(0, await running);

        Assert.Equal(
            ["/api/v1/namespaces/team-a/configmaps", "/api/v1/namespaces/team-a/services", "/apis/batch/v1/namespaces/team-a/jobs"],
            server.Posts.ToArray().Where(p => !p.EndsWith("/events", StringComparison.Ordinal)));
        Assert.Contains("/api/v1/namespaces/team-a/events", server.Posts);
        var status = JsonNode.Parse(server.StatusPuts.First())!["status"]!;
        Assert.Equal("Pending", status["phase"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
        Assert.Contains(reconciled, metrics);
        Assert.Contains("fastreid_operator_resources{kind=\"ReidExperiment\",phase=\"Unknown\"} 1", metrics);
    }

    [Fact]
    public async Task Of_two_replicas_only_the_lease_holder_reconciles()
    {
        await using var server = await ScriptedApiServer.StartAsync();
        using var clientA = new Kubernetes(new KubernetesClientConfiguration { Host = server.Address });
        using var clientB = new Kubernetes(new KubernetesClientConfiguration { Host = server.Address });
        int portA = FreePort(), portB = FreePort();
        var a = new OperatorHost(Options(portA, "--identity", "op-a", "--leader-election-namespace", "fastreid-system"), clientA, NullLoggerFactory.Instance);
        var b = new OperatorHost(Options(portB, "--identity", "op-b", "--leader-election-namespace", "fastreid-system"), clientB, NullLoggerFactory.Instance);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var runningA = a.RunAsync(stop.Token);
        var runningB = b.RunAsync(stop.Token);
        using var httpA = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{portA}") };
        using var httpB = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{portB}") };
        const string leading = "fastreid_operator_leader 1";
        for (int i = 0; i < 1000 && server.LeaseHolder("fastreid-operator") is null; i++) await Task.Delay(20);
        var holder = server.LeaseHolder("fastreid-operator");
        var (leader, follower) = holder == "op-a" ? (httpA, httpB) : (httpB, httpA);
        var leaderMetrics = await WaitForMetric(leader, "fastreid_operator_reconciles_total{kind=\"ReidExperiment\",result=\"success\"} 1");
        // a deliberate "nothing happens" check: the follower retries the Lease every 2 s, so within 2.5 s it has tried
        // once more while the leader holds it, and must still not reconcile
        await Task.Delay(2500);
        var followerMetrics = await follower.GetStringAsync("/metrics");
        await stop.CancelAsync();
        await Task.WhenAll(runningA, runningB);

        Assert.Contains(holder, new[] { "op-a", "op-b" });
        Assert.Contains(leading, leaderMetrics);
        Assert.Contains("fastreid_operator_leader 0", followerMetrics);
        Assert.DoesNotContain("fastreid_operator_reconciles_total{", followerMetrics);
        Assert.Single(server.Posts, p => p == "/apis/batch/v1/namespaces/team-a/jobs");
        Assert.Equal(holder, server.LeaseHolder("fastreid-operator"));
    }

    [Fact]
    public async Task Without_an_api_server_it_stays_alive_unready_and_counts_list_errors()
    {
        var port = FreePort();
        var options = Options(port, "--leader-elect=false");
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
        var metrics = await WaitForMetric(http, "fastreid_operator_watch_restarts_total{kind=\"Job\",reason=\"list-error\"}");
        var readyz = await http.GetAsync("/readyz");
        await stop.CancelAsync();
        Assert.Equal(0, await running);
        Assert.Equal(HttpStatusCode.OK, healthz!.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz.StatusCode);
        Assert.Contains("fastreid_operator_watch_restarts_total{kind=\"Job\",reason=\"list-error\"}", metrics);
    }
}
