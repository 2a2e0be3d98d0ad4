using k8s;
using k8s.Models;

namespace FastReid.KubeEmulator.Tests;

/// <summary>Watch semantics: event types, resume from a resourceVersion, 410 Gone, bookmarks, timeouts, selector transitions.</summary>
public sealed class WatchTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>
{
    static V1ConfigMap ConfigMap(string name, string? label = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = label is null ? null : new Dictionary<string, string> { ["app"] = label } },
        Data = new Dictionary<string, string> { ["k"] = "v" },
    };

    async Task<List<(WatchEventType Type, V1ConfigMap Object)>> Collect(string ns, int count, string? resourceVersion = null,
        string? labelSelector = null, bool? bookmarks = null, int timeoutMs = 10_000, Action<Exception>? onError = null)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        var events = new List<(WatchEventType, V1ConfigMap)>();
        try
        {
            await foreach (var e in kube.Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: resourceVersion,
                labelSelector: labelSelector, allowWatchBookmarks: bookmarks, onError: onError, cancellationToken: cts.Token))
            {
                events.Add(e);
                if (events.Count == count) break;
            }
        }
        catch (OperationCanceledException) { }
        return events;
    }

    /// <summary>Waits until a watch in <paramref name="ns"/> is subscribed (each test has its own namespace), or the client gave up.</summary>
    Task WatchStarted(string ns, Func<bool> exited) => Until(() => kube.Server.OpenWatches(ns) > 0 || exited());

    static async Task Until(Func<bool> condition)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition()) await Task.Delay(10, limit.Token); // polling interval
    }

    [Fact]
    public async Task Kubectl_get_watch_prints_added_modified_and_deleted()
    {
        var ns = kube.Namespace("kwatch");
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("seed"), ns);
        using var watch = kube.Kubectl.StartBackground("get", "configmaps", "-n", ns, "-w", "--output-watch-events");
        // kubectl lists first (printing seed), then watches from the list's resourceVersion.
        await watch.WaitForOutput(o => o.Contains("seed"), "kubectl get -w to list");
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("watched"), ns);
        await kube.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"k":"w"}}""", V1Patch.PatchType.MergePatch), "watched", ns);
        await kube.Client.CoreV1.DeleteNamespacedConfigMapAsync("watched", ns);
        await watch.WaitForOutput(o => o.Contains("DELETED"), "the DELETED event");
        var lines = watch.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("watched")).ToList();
        Assert.Equal(["ADDED", "MODIFIED", "DELETED"], lines.Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public async Task Kubectl_wait_sees_a_condition_set_later_through_the_status_subresource()
    {
        kube.Kubectl.Apply(TestManifests.WidgetCrd).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Established", "crd/widgets.example.io", "--timeout=10s").Ok();
        var ns = kube.Namespace("kwait");
        kube.Kubectl.Apply(TestManifests.Widget(ns, "w", 1)).Ok();
        using var wait = kube.Kubectl.StartBackground("wait", "--for=condition=Ready", "widget/w", "-n", ns, "--timeout=20s");
        await WatchStarted(ns, () => wait.HasExited);
        Assert.False(wait.HasExited, "kubectl wait returned before the condition was set: " + wait.Output + wait.Errors);
        kube.Kubectl.Run("patch", "widget", "w", "-n", ns, "--subresource=status", "--type=merge",
            "-p", """{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}""").Ok();
        Assert.Equal(0, await wait.WaitForExit());
        Assert.Contains("condition met", wait.Output);

        await Until(() => kube.Server.OpenWatches(ns) == 0); // the first kubectl wait's watch has closed
        using var gone = kube.Kubectl.StartBackground("wait", "--for=delete", "widget/w", "-n", ns, "--timeout=20s");
        await WatchStarted(ns, () => gone.HasExited);
        kube.Kubectl.Run("delete", "widget", "w", "-n", ns).Ok();
        Assert.Equal(0, await gone.WaitForExit());
    }

    [Fact]
    public async Task A_watch_resumes_after_a_resourceVersion_with_exactly_the_later_events()
    {
        var ns = kube.Namespace("resume");
        var first = await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), ns);
        await kube.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"k":"x"}}""", V1Patch.PatchType.MergePatch), "a", ns);
        await kube.Client.CoreV1.DeleteNamespacedConfigMapAsync("b", ns);

        var events = await Collect(ns, 3, resourceVersion: first.Metadata.ResourceVersion);
        Assert.Equal([(WatchEventType.Added, "b"), (WatchEventType.Modified, "a"), (WatchEventType.Deleted, "b")],
            events.Select(e => (e.Type, e.Object.Metadata.Name)));
        var versions = events.Select(e => long.Parse(e.Object.Metadata.ResourceVersion)).ToList();
        Assert.Equal(versions.Order(), versions);

        // Without a resourceVersion a watch starts with the current state as ADDED events.
        var initial = await Collect(ns, 1);
        Assert.Equal((WatchEventType.Added, "a"), (initial[0].Type, initial[0].Object.Metadata.Name));
    }

    [Fact]
    public async Task A_watch_under_concurrent_writers_sees_every_event_once_in_resourceVersion_order()
    {
        var ns = kube.Namespace("load");
        var list = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        var watch = Collect(ns, 200, resourceVersion: list.Metadata.ResourceVersion, timeoutMs: 30_000);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++) await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"w{w}-{i}"), ns);
        })));
        var events = await watch;
        Assert.Equal(200, events.Count);
        Assert.Equal(200, events.Select(e => e.Object.Metadata.Name).Distinct().Count());
        var versions = events.Select(e => long.Parse(e.Object.Metadata.ResourceVersion)).ToList();
        Assert.True(versions.Zip(versions.Skip(1)).All(p => p.First < p.Second), "resourceVersions must increase along the stream");
    }

    [Fact]
    public async Task A_compacted_resourceVersion_answers_410_Gone()
    {
        var ns = kube.Namespace("gone");
        var old = await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), ns);
        kube.Server.CompactHistory();
        var errors = new List<Exception>();
        var events = await Collect(ns, 1, resourceVersion: old.Metadata.ResourceVersion, onError: errors.Add, timeoutMs: 1_500);
        Assert.Empty(events);
        var error = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, error.Status.Code);
        Assert.Equal("Expired", error.Status.Reason);
        Assert.Contains("too old resource version", error.Status.Message);

        // The current resourceVersion still resumes (nothing missed).
        var list = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        // resuming from the list's resourceVersion, the watch gets the create however late it subscribes
        var resumed = Collect(ns, 1, resourceVersion: list.Metadata.ResourceVersion);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c"), ns);
        Assert.Equal("c", (await resumed).Single().Object.Metadata.Name);
    }

    [Fact]
    public async Task Bookmarks_arrive_when_asked_for_and_timeoutSeconds_ends_the_stream()
    {
        var ns = kube.Namespace("bookmark");
        var list = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        var events = await Collect(ns, 1, resourceVersion: list.Metadata.ResourceVersion, bookmarks: true, timeoutMs: 5_000);
        Assert.Equal(WatchEventType.Bookmark, Assert.Single(events).Type);
        Assert.True(long.Parse(events[0].Object.Metadata.ResourceVersion) >= long.Parse(list.Metadata.ResourceVersion));

        // (KubernetesClient cannot read a watch body that ends before its first line, so give it one.)
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("present"), ns);
        var started = DateTime.UtcNow;
        using var cts = new CancellationTokenSource(10_000);
        var seen = 0;
        await foreach (var _ in kube.Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, timeoutSeconds: 1, cancellationToken: cts.Token)) seen++;
        Assert.Equal(1, seen);
        var elapsed = DateTime.UtcNow - started;
        Assert.False(cts.IsCancellationRequested, "the server did not end the watch after timeoutSeconds");
        Assert.InRange(elapsed.TotalSeconds, 0.9, 5);
    }

    [Fact]
    public async Task Deleting_through_a_finalizer_shows_the_deletionTimestamp_then_one_DELETED()
    {
        var ns = kube.Namespace("finwatch");
        var list = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        var watch = Collect(ns, 3, resourceVersion: list.Metadata.ResourceVersion);
        var held = ConfigMap("held");
        held.Metadata.Finalizers = ["fastreid.io/cleanup"];
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(held, ns);
        await kube.Client.CoreV1.DeleteNamespacedConfigMapAsync("held", ns);
        await kube.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), "held", ns);
        var events = await watch;
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], events.Select(e => e.Type));
        Assert.NotNull(events[1].Object.Metadata.DeletionTimestamp);
    }

    [Fact]
    public async Task A_watch_list_request_streams_the_state_then_an_initial_events_end_bookmark()
    {
        var ns = kube.Namespace("watchlist");
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("one"), ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("two"), ns);
        using var http = new HttpClient { BaseAddress = new Uri(kube.Server.Url) };
        using var response = await http.GetAsync($"/api/v1/namespaces/{ns}/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true" +
            "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var lines = new List<System.Text.Json.JsonElement>();
        while (await reader.ReadLineAsync() is { } line && lines.Count < 3)
            lines.Add(System.Text.Json.JsonDocument.Parse(line).RootElement.Clone());
        Assert.Equal(["ADDED", "ADDED", "BOOKMARK"], lines.Select(l => l.GetProperty("type").GetString()));
        Assert.Equal("true", lines[2].GetProperty("object").GetProperty("metadata").GetProperty("annotations")
            .GetProperty("k8s.io/initial-events-end").GetString());
    }

    [Fact]
    public async Task Objects_entering_and_leaving_a_label_selector_are_added_and_deleted()
    {
        var ns = kube.Namespace("transit");
        var list = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        var watch = Collect(ns, 3, resourceVersion: list.Metadata.ResourceVersion, labelSelector: "app=trainer");
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("x", "other"), ns);
        await kube.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"labels":{"app":"trainer"}}}""", V1Patch.PatchType.MergePatch), "x", ns);
        await kube.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"k":"2"}}""", V1Patch.PatchType.MergePatch), "x", ns);
        await kube.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"labels":{"app":"other"}}}""", V1Patch.PatchType.MergePatch), "x", ns);
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], (await watch).Select(e => e.Type));
    }
}
