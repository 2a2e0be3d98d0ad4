using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Storage;

/// <summary>Where one object lives: storage key (group/plural), namespace ("" for cluster-scoped), name.</summary>
internal readonly record struct ObjectKey(string StorageKey, string Namespace, string Name)
{
    public string Path => Namespace.Length == 0 ? Name : Namespace + "/" + Name;
}

/// <summary>A committed change, as watch streams and controllers see it.</summary>
internal sealed record StoredEvent(long ResourceVersion, string Type, ObjectKey Key, JsonObject Object, JsonObject? Previous);

/// <summary>
/// The emulator's etcd: objects by key, one monotonic revision counter shared by all kinds, and a
/// bounded history window of committed events that watches resume from. Every member must be called
/// with <see cref="Gate"/> held so that a read, its check and its write are one atomic step, and so a
/// watch can replay history and subscribe without missing or repeating an event.
/// </summary>
internal sealed class ObjectStore(int historyWindow)
{
    readonly Dictionary<string, SortedDictionary<string, JsonObject>> _objects = new();
    readonly Dictionary<string, ObjectKey> _byUid = new();
    readonly LinkedList<StoredEvent> _history = new();
    readonly List<Action<StoredEvent>> _sinks = new();
    long _revision = 1;
    long _compactedThrough;

    public Lock Gate { get; } = new();

    public long Revision => _revision;

    /// <summary>Watches asking to resume from a revision older than this get 410 Gone.</summary>
    public long CompactedThrough => _compactedThrough;

    public long NextRevision() => ++_revision;

    public JsonObject? Get(ObjectKey key) =>
        _objects.TryGetValue(key.StorageKey, out var byName) && byName.TryGetValue(key.Path, out var obj) ? obj : null;

    public IEnumerable<(ObjectKey Key, JsonObject Object)> List(string storageKey, string? ns)
    {
        if (!_objects.TryGetValue(storageKey, out var byName)) yield break;
        foreach (var (path, obj) in byName)
        {
            var key = KeyOf(storageKey, obj);
            if (ns is null || key.Namespace == ns) yield return (key, obj);
        }
    }

    public IEnumerable<(ObjectKey Key, JsonObject Object)> All() =>
        _objects.SelectMany(kv => kv.Value.Values.Select(o => (KeyOf(kv.Key, o), o)));

    public ObjectKey? FindByUid(string uid) => _byUid.TryGetValue(uid, out var k) ? k : null;

    /// <summary>Stores an object whose resourceVersion the caller already set from <see cref="NextRevision"/>.</summary>
    public void Put(ObjectKey key, JsonObject obj)
    {
        obj = Normalize(obj);
        var previous = Get(key);
        if (!_objects.TryGetValue(key.StorageKey, out var byName))
            _objects[key.StorageKey] = byName = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        byName[key.Path] = obj;
        if (Meta.Uid(obj) is { Length: > 0 } uid) _byUid[uid] = key;
        Record(new StoredEvent(Meta.ResourceVersion(obj), previous is null ? "ADDED" : "MODIFIED", key, obj, previous));
    }

    /// <summary>Removes an object; the DELETED event carries its last state at a fresh revision, as etcd reports a delete.</summary>
    public JsonObject Remove(ObjectKey key)
    {
        var current = Get(key) ?? throw new InvalidOperationException($"{key} is not stored");
        _objects[key.StorageKey].Remove(key.Path);
        if (Meta.Uid(current) is { Length: > 0 } uid) _byUid.Remove(uid);
        var final = current.DeepClone().AsObject();
        Meta.SetResourceVersion(final, NextRevision());
        Record(new StoredEvent(_revision, "DELETED", key, final, current));
        return final;
    }

    /// <summary>Committed events after <paramref name="revision"/>, or null when that revision is already compacted away.</summary>
    public IReadOnlyList<StoredEvent>? EventsAfter(long revision)
    {
        if (revision < _compactedThrough) return null;
        return _history.Where(e => e.ResourceVersion > revision).ToList();
    }

    /// <summary>Forgets all history, as an etcd compaction does: older resume points then answer 410.</summary>
    public void Compact()
    {
        _history.Clear();
        _compactedThrough = _revision;
    }

    public IDisposable Subscribe(Action<StoredEvent> sink)
    {
        _sinks.Add(sink);
        return new Subscription(this, sink);
    }

    void Record(StoredEvent e)
    {
        _history.AddLast(e);
        while (_history.Count > historyWindow)
        {
            _compactedThrough = _history.First!.Value.ResourceVersion;
            _history.RemoveFirst();
        }
        foreach (var sink in _sinks.ToArray()) sink(e);
    }

    /// <summary>
    /// A fully materialised copy with JSON-parsed values: stored objects are read by many threads at
    /// once (lazily parsed JsonObjects are not safe for that), and numbers compare and convert the
    /// same way whether a client or a controller wrote them.
    /// </summary>
    static JsonObject Normalize(JsonObject obj)
    {
        var copy = JsonNode.Parse(obj.ToJsonString())!.AsObject();
        Materialize(copy);
        return copy;
    }

    /// <summary>Forces every lazily parsed object and array to build its members now, while the gate is held.</summary>
    static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o) Materialize(child);
                break;
            case JsonArray a:
                foreach (var child in a) Materialize(child);
                break;
        }
    }

    static ObjectKey KeyOf(string storageKey, JsonObject obj) => new(storageKey, Meta.Namespace(obj), Meta.Name(obj));

    sealed class Subscription(ObjectStore store, Action<StoredEvent> sink) : IDisposable
    {
        public void Dispose()
        {
            lock (store.Gate) store._sinks.Remove(sink);
        }
    }
}
