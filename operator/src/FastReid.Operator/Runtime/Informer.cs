using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator.Runtime;

public enum WatchEventKind { Added, Modified, Deleted, Bookmark }

public sealed record WatchEvent<T>(WatchEventKind Kind, T? Object, string? ResourceVersion);

/// <summary>The watch's resourceVersion is too old (HTTP 410 Gone): only a fresh list can continue.</summary>
public sealed class WatchExpiredException(string message) : Exception(message);

/// <summary>How to list and watch one kind in the operator's scope (one namespace or all).</summary>
public sealed record ResourceSource<T>(
    string Kind,
    Func<CancellationToken, Task<(IReadOnlyList<T> Items, string ResourceVersion)>> ListAsync,
    Func<string, CancellationToken, IAsyncEnumerable<WatchEvent<T>>> Watch,
    Func<T, ObjectKey> KeyOf,
    Func<T, string?> ResourceVersionOf);

/// <summary>
/// Keeps a local cache of one kind: list, then watch from the list's resourceVersion (with bookmarks
/// advancing it), re-watch from the last version when a watch ends, relist on 410 Gone, and reconnect with
/// capped, jittered exponential backoff on errors. Every change is reported as (old, new).
/// </summary>
public sealed class Informer<T>(ResourceSource<T> source, ILogger logger, Action<string, string>? onRestart = null) where T : class
{
    private readonly object _gate = new();
    private readonly Dictionary<ObjectKey, T> _cache = [];
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called with (old, new): old null on add, new null on delete.</summary>
    public event Action<T?, T?>? Changed;

    public string Kind => source.Kind;

    /// <summary>Completes after the first successful list.</summary>
    public Task Synced => _synced.Task;

    /// <summary>Last resourceVersion seen (list, event or bookmark).</summary>
    public string? ResourceVersion { get; private set; }

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    public T? TryGet(ObjectKey key) { lock (_gate) return _cache.GetValueOrDefault(key); }

    public IReadOnlyList<T> Snapshot() { lock (_gate) return [.. _cache.Values]; }

    public async Task RunAsync(CancellationToken ct)
    {
        var backoff = new Backoff(InitialBackoff, MaxBackoff);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var (items, version) = await source.ListAsync(ct).ConfigureAwait(false);
                Replace(items);
                ResourceVersion = version;
                _synced.TrySetResult();
                backoff.Reset();
                await WatchUntilExpiredAsync(backoff, ct).ConfigureAwait(false);
                onRestart?.Invoke(source.Kind, "expired");
                logger.LogInformation("{Kind} watch expired at resourceVersion {Version}; relisting", source.Kind, ResourceVersion);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                onRestart?.Invoke(source.Kind, "list-error");
                var delay = backoff.Next();
                logger.LogWarning("{Kind} list failed ({Error}); retrying in {Delay}", source.Kind, e.Message, delay);
                await Delay(delay, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Watches from <see cref="ResourceVersion"/> until 410 Gone; reconnects on any other end.</summary>
    private async Task WatchUntilExpiredAsync(Backoff backoff, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var ev in source.Watch(ResourceVersion!, ct).ConfigureAwait(false))
                {
                    Apply(ev);
                    backoff.Reset();
                }
                // The server closed the watch (timeout): continue from where we are.
            }
            catch (WatchExpiredException)
            {
                return;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                onRestart?.Invoke(source.Kind, "watch-error");
                var delay = backoff.Next();
                logger.LogWarning("{Kind} watch failed ({Error}); reconnecting in {Delay}", source.Kind, e.Message, delay);
                await Delay(delay, ct).ConfigureAwait(false);
            }
        }
        ct.ThrowIfCancellationRequested();
    }

    private void Apply(WatchEvent<T> ev)
    {
        if (ev.ResourceVersion is { Length: > 0 } version) ResourceVersion = version;
        if (ev.Kind == WatchEventKind.Bookmark || ev.Object is null) return;
        var key = source.KeyOf(ev.Object);
        T? old;
        lock (_gate)
        {
            old = _cache.GetValueOrDefault(key);
            if (ev.Kind == WatchEventKind.Deleted) _cache.Remove(key);
            else _cache[key] = ev.Object;
        }
        Changed?.Invoke(old, ev.Kind == WatchEventKind.Deleted ? null : ev.Object);
    }

    private void Replace(IReadOnlyList<T> items)
    {
        var changes = new List<(T? Old, T? New)>();
        lock (_gate)
        {
            var fresh = items.ToDictionary(source.KeyOf);
            foreach (var (key, old) in _cache)
                if (!fresh.ContainsKey(key)) changes.Add((old, null));
            foreach (var (key, item) in fresh)
            {
                var old = _cache.GetValueOrDefault(key);
                if (old is null || source.ResourceVersionOf(old) != source.ResourceVersionOf(item)) changes.Add((old, item));
            }
            _cache.Clear();
            foreach (var (key, item) in fresh) _cache[key] = item;
        }
        foreach (var (old, item) in changes) Changed?.Invoke(old, item);
    }

    private static async Task Delay(TimeSpan delay, CancellationToken ct)
    {
        try { await Task.Delay(delay, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }
}

/// <summary>Helpers for sources built from in-memory sequences (tests, the local runner).</summary>
public static class WatchStreams
{
    public static async IAsyncEnumerable<WatchEvent<T>> From<T>(IEnumerable<WatchEvent<T>> events, [EnumeratorCancellation] CancellationToken ct = default)
    {
        foreach (var ev in events)
        {
            ct.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return ev;
        }
    }
}
