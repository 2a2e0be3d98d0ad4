using System.Runtime.CompilerServices;
using FastReid.Operator.Runtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

public class InformerTests
{
    private sealed record Item(string Name, string Version);

    /// <summary>A scripted server: each list returns the next listing; each watch plays the next script.</summary>
    private sealed class Server
    {
        public Queue<(IReadOnlyList<Item>, string)> Lists { get; } = new();
        public Queue<Func<string, IAsyncEnumerable<WatchEvent<Item>>>> Watches { get; } = new();
        public List<string> Calls { get; } = [];

        public ResourceSource<Item> Source() => new(
            "Item",
            _ =>
            {
                lock (Calls) Calls.Add("list");
                return Lists.Count > 0 ? Task.FromResult(Lists.Dequeue()) : throw new HttpRequestException("connection refused");
            },
            (version, ct) =>
            {
                lock (Calls) Calls.Add("watch@" + version);
                return Watches.Count > 0 ? Watches.Dequeue()(version) : Hang(ct);
            },
            i => new ObjectKey("ns", i.Name),
            i => i.Version);

        private static async IAsyncEnumerable<WatchEvent<Item>> Hang([EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Delay(Timeout.Infinite, ct);
            yield break;
        }
    }

    private static async IAsyncEnumerable<WatchEvent<Item>> Events(params WatchEvent<Item>[] events)
    {
        foreach (var e in events) { await Task.Yield(); yield return e; }
    }

    private static async IAsyncEnumerable<WatchEvent<Item>> Then(IAsyncEnumerable<WatchEvent<Item>> first, Exception error)
    {
        await foreach (var e in first) yield return e;
        throw error;
    }

    private static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), "condition not reached in 5 s");
    }

    [Fact]
    public async Task Lists_then_watches_from_the_list_version_and_follows_bookmarks()
    {
        var server = new Server();
        server.Lists.Enqueue(([new Item("a", "1")], "10"));
        server.Watches.Enqueue(_ => Events(
            new(WatchEventKind.Added, new Item("b", "11"), "11"),
            new(WatchEventKind.Bookmark, null, "15"),
            new(WatchEventKind.Modified, new Item("a", "16"), "16"),
            new(WatchEventKind.Deleted, new Item("b", "17"), "17"),
            new(WatchEventKind.Bookmark, null, "20")));
        var changes = new List<string>();
        var informer = new Informer<Item>(server.Source(), NullLogger.Instance);
        informer.Changed += (old, now) => { lock (changes) changes.Add($"{old?.Version ?? "-"}>{now?.Version ?? "-"}"); };
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(5));
        await Until(() => server.Calls.Count >= 3);
        await cts.CancelAsync();
        await run;
        Assert.Equal(["list", "watch@10", "watch@20"], server.Calls.Take(3)); // a closed watch resumes from the last bookmark
        Assert.Equal(["->1", "->11", "1>16", "11>-"], changes);
        Assert.Equal("16", informer.TryGet(new ObjectKey("ns", "a"))!.Version);
        Assert.Null(informer.TryGet(new ObjectKey("ns", "b")));
    }

    [Fact]
    public async Task Gone_relists_and_reports_only_what_changed_meanwhile()
    {
        var server = new Server();
        server.Lists.Enqueue(([new Item("a", "1"), new Item("b", "2")], "10"));
        server.Watches.Enqueue(_ => Then(Events(), new WatchExpiredException("too old resource version")));
        server.Lists.Enqueue(([new Item("a", "1"), new Item("c", "30")], "30"));
        var changes = new List<string>();
        int restarts = 0;
        var informer = new Informer<Item>(server.Source(), NullLogger.Instance, (_, reason) => { if (reason == "expired") Interlocked.Increment(ref restarts); });
        informer.Changed += (old, now) => { lock (changes) changes.Add($"{old?.Name ?? "-"}>{now?.Name ?? "-"}"); };
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await Until(() => server.Calls.Contains("watch@30"));
        await cts.CancelAsync();
        await run;
        Assert.Equal(["list", "watch@10", "list", "watch@30"], server.Calls.Take(4));
        Assert.Equal(["->a", "->b", "b>-", "->c"], changes);
        Assert.Equal(1, restarts);
    }

    [Fact]
    public async Task A_broken_watch_reconnects_from_its_version_without_relisting()
    {
        var server = new Server();
        server.Lists.Enqueue(([], "5"));
        server.Watches.Enqueue(_ => Then(Events(new WatchEvent<Item>(WatchEventKind.Added, new Item("a", "6"), "6")), new IOException("connection reset")));
        var informer = new Informer<Item>(server.Source(), NullLogger.Instance) { InitialBackoff = TimeSpan.FromMilliseconds(5) };
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await Until(() => server.Calls.Contains("watch@6"));
        await cts.CancelAsync();
        await run;
        Assert.Equal(["list", "watch@5", "watch@6"], server.Calls.Take(3));
    }

    [Fact]
    public async Task A_failing_list_is_retried_with_backoff_until_it_succeeds()
    {
        var server = new Server();
        var informer = new Informer<Item>(server.Source(), NullLogger.Instance) { InitialBackoff = TimeSpan.FromMilliseconds(5), MaxBackoff = TimeSpan.FromMilliseconds(20) };
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await Until(() => server.Calls.Count(c => c == "list") >= 3);
        Assert.False(informer.Synced.IsCompleted);
        server.Lists.Enqueue(([new Item("a", "1")], "1"));
        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(5));
        await cts.CancelAsync();
        await run;
        Assert.NotNull(informer.TryGet(new ObjectKey("ns", "a")));
    }
}
