using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using FastReid.KubeEmulator.Storage;
using Microsoft.AspNetCore.Http;

namespace FastReid.KubeEmulator.Http;

/// <summary>What a watch request asked for.</summary>
internal sealed record WatchRequest(ResourceType Type, string? Namespace, LabelSelector Labels, FieldSelector Fields,
    string? ResourceVersion, int? TimeoutSeconds, bool Bookmarks, bool SendInitialEvents, bool AsTable);

/// <summary>
/// One watch connection: a line-delimited stream of {"type","object"} events. Resuming from a
/// resourceVersion replays the history window after it, or answers ERROR 410 Expired when the window
/// no longer reaches back that far; no version (or "0") starts with synthetic ADDED events for what exists.
/// Objects that stop or start matching the selectors are reported as DELETED or ADDED, as the apiserver does.
/// </summary>
internal sealed class WatchStream(ObjectStore store, KubeFaults faults, TimeSpan bookmarkInterval, WatchStream.OpenCount open)
{
    /// <summary>Watches subscribed to the store now, by namespace ("" for watches across namespaces): every change from then on reaches them.</summary>
    internal sealed class OpenCount
    {
        readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _byNamespace = new();

        public int In(string? ns) => ns is null ? _byNamespace.Values.Sum() : _byNamespace.GetValueOrDefault(ns);

        public IDisposable Enter(string? ns)
        {
            var key = ns ?? "";
            _byNamespace.AddOrUpdate(key, 1, (_, n) => n + 1);
            return new Leave(this, key);
        }

        sealed class Leave(OpenCount count, string key) : IDisposable
        {
            int _left;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _left, 1) == 0) count._byNamespace.AddOrUpdate(key, 0, (_, n) => n - 1);
            }
        }
    }

    public async Task Serve(HttpContext ctx, WatchRequest request, CancellationToken serverStopping)
    {
        var channel = Channel.CreateUnbounded<(string Type, JsonObject Object)>();
        var initial = new List<(string, JsonObject)>();
        long? expiredFrom = null;
        IDisposable? subscription = null;
        long revisionAtStart;
        lock (store.Gate)
        {
            revisionAtStart = store.Revision;
            if (faults.TakeWatchExpiry())
                expiredFrom = request.ResourceVersion is null or "" ? 0 : ParseVersion(request.ResourceVersion);
            else if (request.ResourceVersion is null or "" or "0")
            {
                foreach (var (_, obj) in store.List(request.Type.StorageKey, request.Namespace))
                    if (Matches(request, obj)) initial.Add(("ADDED", obj));
                subscription = store.Subscribe(e => Forward(request, e, channel.Writer));
            }
            else
            {
                var from = ParseVersion(request.ResourceVersion);
                var history = store.EventsAfter(from);
                if (history is null) expiredFrom = from;
                else
                {
                    foreach (var e in history)
                        if (Translate(request, e) is { } t) initial.Add(t);
                    subscription = store.Subscribe(e => Forward(request, e, channel.Writer));
                }
            }
        }
        using var _ = subscription;
        using var counted = subscription is null ? null : open.Enter(request.Namespace);
        var dropToken = faults.WatchDropToken;
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, serverStopping, dropToken);
        if (request.TimeoutSeconds is { } t0 && t0 > 0) lifetime.CancelAfter(TimeSpan.FromSeconds(t0));
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        ctx.Response.Headers.CacheControl = "no-cache, private";
        try
        {
            await ctx.Response.StartAsync(lifetime.Token);
            if (expiredFrom is { } rv)
            {
                var status = ApiException.StatusObject(410, "Expired", $"too old resource version: {rv} ({store.CompactedThrough})");
                await Write(ctx, "ERROR", status, lifetime.Token);
                return;
            }
            foreach (var (type, obj) in initial) await Write(ctx, type, Render(request, obj), lifetime.Token);
            if (request.SendInitialEvents && request.Bookmarks)
                await WriteBookmark(ctx, request, revisionAtStart, lifetime.Token, initialEventsEnd: true);
            await ctx.Response.Body.FlushAsync(lifetime.Token);
            var nextBookmark = DateTime.UtcNow + bookmarkInterval;
            while (!lifetime.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
                if (request.Bookmarks) wait.CancelAfter(Max(nextBookmark - DateTime.UtcNow, TimeSpan.FromMilliseconds(10)));
                try
                {
                    var e = await channel.Reader.ReadAsync(wait.Token);
                    await Write(ctx, e.Type, Render(request, e.Object), lifetime.Token);
                    while (channel.Reader.TryRead(out var more)) await Write(ctx, more.Type, Render(request, more.Object), lifetime.Token);
                    await ctx.Response.Body.FlushAsync(lifetime.Token);
                }
                catch (OperationCanceledException) when (!lifetime.IsCancellationRequested)
                {
                    long now;
                    lock (store.Gate) now = store.Revision;
                    await WriteBookmark(ctx, request, now, lifetime.Token, initialEventsEnd: false);
                    await ctx.Response.Body.FlushAsync(lifetime.Token);
                    nextBookmark = DateTime.UtcNow + bookmarkInterval;
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { }
        // A dropped watch is a broken connection, not a clean end of stream.
        if (dropToken.IsCancellationRequested || serverStopping.IsCancellationRequested) ctx.Abort();
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    static long ParseVersion(string? rv) =>
        long.TryParse(rv, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
            : throw ApiException.BadRequest($"invalid resource version \"{rv}\"");

    static bool Matches(WatchRequest r, JsonObject obj) =>
        (r.Namespace is null || Meta.Namespace(obj) == r.Namespace) && r.Labels.Matches(Meta.Labels(obj)) && r.Fields.Matches(obj);

    static (string, JsonObject)? Translate(WatchRequest r, StoredEvent e)
    {
        if (e.Key.StorageKey != r.Type.StorageKey) return null;
        var now = e.Type != "DELETED" && Matches(r, e.Object);
        var before = e.Previous is not null && Matches(r, e.Previous);
        return e.Type switch
        {
            "ADDED" when now => ("ADDED", e.Object),
            "MODIFIED" when now && before => ("MODIFIED", e.Object),
            "MODIFIED" when now => ("ADDED", e.Object),
            "MODIFIED" when before => ("DELETED", e.Object),
            "DELETED" when before => ("DELETED", e.Object),
            _ => null,
        };
    }

    static void Forward(WatchRequest r, StoredEvent e, ChannelWriter<(string, JsonObject)> writer)
    {
        if (Translate(r, e) is { } t) writer.TryWrite(t);
    }

    static JsonObject Render(WatchRequest r, JsonObject obj)
    {
        var versioned = ApiHandler.AtVersion(r.Type, obj);
        return r.AsTable ? TableWriter.Table(r.Type, [versioned], Meta.ResourceVersion(obj), null) : versioned;
    }

    Task WriteBookmark(HttpContext ctx, WatchRequest r, long revision, CancellationToken ct, bool initialEventsEnd)
    {
        var meta = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) };
        if (initialEventsEnd) meta["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        return Write(ctx, "BOOKMARK", new JsonObject { ["kind"] = r.Type.Kind, ["apiVersion"] = r.Type.ApiVersion, ["metadata"] = meta }, ct);
    }

    static async Task Write(HttpContext ctx, string type, JsonObject obj, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WritePropertyName("object");
            obj.WriteTo(writer);
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        await ctx.Response.Body.WriteAsync(buffer.ToArray(), ct);
    }
}
