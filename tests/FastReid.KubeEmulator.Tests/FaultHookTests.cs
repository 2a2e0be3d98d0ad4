using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FastReid.KubeEmulator.Tests;

/// <summary>The fault hooks a controller's resilience tests rely on. Each test owns its server: faults are global to one.</summary>
public sealed class FaultHookTests : IAsyncLifetime
{
    readonly EmulatorFixture _kube = new();

    public Task InitializeAsync() => _kube.InitializeAsync();
    public Task DisposeAsync() => _kube.DisposeAsync();

    static V1ConfigMap ConfigMap(string name) => new() { Metadata = new V1ObjectMeta { Name = name } };

    [Fact]
    public async Task Failing_the_next_requests_answers_500_or_429_then_recovers()
    {
        _kube.Server.Faults.FailNextRequests(1, 500, (method, path) => method == "GET" && path == "/api/v1/namespaces/default/configmaps");
        var error = _kube.Kubectl.Run("get", "configmaps").Fails();
        Assert.Contains("Internal error occurred: injected fault", error.Stderr);
        _kube.Kubectl.Run("get", "configmaps").Ok();

        _kube.Server.Faults.FailNextRequests(2, 429, (method, path) => method == "POST" && path.EndsWith("/configmaps"));
        var throttled = await Assert.ThrowsAsync<HttpOperationException>(() => _kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default"));
        Assert.Equal((System.Net.HttpStatusCode)429, throttled.Response.StatusCode);
        Assert.Contains("TooManyRequests", throttled.Response.Content);
        await _kube.Client.CoreV1.ListNamespacedConfigMapAsync("default");
        await Assert.ThrowsAsync<HttpOperationException>(() => _kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default"));
        await _kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), "default");
    }

    /// <summary>Waits until <paramref name="count"/> watches are subscribed (this test's server has no others).</summary>
    async Task WatchesOpen(int count)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (_kube.Server.OpenWatches() < count) await Task.Delay(10, limit.Token); // polling interval
    }

    [Fact]
    public async Task Dropping_watches_cuts_open_streams_and_the_next_watch_can_be_expired()
    {
        await _kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("seed"), "default");
        var closed = new TaskCompletionSource();
        var errors = new List<Exception>();
        using var cts = new CancellationTokenSource(10_000);
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in _kube.Client.CoreV1.WatchListNamespacedConfigMapAsync("default", onError: errors.Add, cancellationToken: cts.Token)) { }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add(e);
            }
            closed.TrySetResult();
        });
        using var kubectlWatch = _kube.Kubectl.StartBackground("get", "configmaps", "-w");
        await kubectlWatch.WaitForOutput(o => o.Contains("seed"), "kubectl to list before watching");
        await WatchesOpen(2); // the client's and kubectl's: dropping must cut both
        _kube.Server.Faults.DropWatches();
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(cts.IsCancellationRequested);
        await kubectlWatch.WaitForExit(5_000);

        _kube.Server.Faults.ExpireNextWatch();
        var list = await _kube.Client.CoreV1.ListNamespacedConfigMapAsync("default");
        var expired = new List<Exception>();
        await foreach (var _ in _kube.Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: list.Metadata.ResourceVersion,
            onError: expired.Add, cancellationToken: cts.Token)) { }
        Assert.Equal(410, Assert.IsType<KubernetesException>(Assert.Single(expired)).Status.Code);
        await watching;
    }

    [Fact]
    public async Task Restart_keeps_objects_and_history_but_cuts_watches()
    {
        var before = await _kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("survivor"), "default");
        var closed = new TaskCompletionSource();
        using var cts = new CancellationTokenSource(15_000);
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in _kube.Client.CoreV1.WatchListNamespacedConfigMapAsync("default", cancellationToken: cts.Token)) { }
            }
            catch (Exception e) when (e is not OperationCanceledException) { }
            closed.TrySetResult();
        });
        await WatchesOpen(1);
        var port = _kube.Server.Port;
        await _kube.Server.RestartAsync();
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(port, _kube.Server.Port);

        var after = await _kube.Client.CoreV1.ReadNamespacedConfigMapAsync("survivor", "default");
        Assert.Equal(before.Metadata.Uid, after.Metadata.Uid);
        Assert.Equal(before.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
        Assert.Contains("survivor", _kube.Kubectl.Run("get", "configmaps").Ok().Stdout);

        // A watch resumes across the restart from the last resourceVersion it saw.
        var resumed = new List<string>();
        var resume = Task.Run(async () =>
        {
            await foreach (var (_, cm) in _kube.Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: before.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                resumed.Add(cm.Metadata.Name);
                break;
            }
        });
        await _kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("after-restart"), "default");
        await resume.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(["after-restart"], resumed);
        await cts.CancelAsync();
        await watching;
    }
}
