using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using k8s;
using k8s.Models;

namespace FastReid.Operator.Hosting;

/// <summary>One kind of child in an informer cache: which of them a resource owns, and when one changed.</summary>
public interface IChildSource
{
    /// <summary>Adds the children of this source that <paramref name="owner"/> (of <paramref name="ownerKind"/>) owns.</summary>
    ObservedChildren AddTo(ObservedChildren observed, KindDescriptor ownerKind, ObjectMeta owner);

    /// <summary>A child was added, changed or deleted (its metadata, to find its owner).</summary>
    event Action<V1ObjectMeta?>? Changed;
}

/// <summary>
/// Children of one type read from an informer of <typeparamref name="TItem"/>: owned by the owner's uid with
/// controller=true, or (pods, which a Job owns) carrying the owner's label. The source keeps its own index of the
/// informer's items by namespace and controlling owner uid, and by namespace and label, updated on each change
/// before the change is announced; so observing one resource's children costs its children, not the whole cache
/// (500 experiments reconciled a few times each would otherwise scan, and read the metadata of, 500 items each time).
/// </summary>
public sealed class ChildSource<TItem> : IChildSource where TItem : class
{
    private readonly object _gate = new();
    private readonly Dictionary<IndexKey, Dictionary<ObjectKey, TItem>> _index = [];
    private readonly Dictionary<ObjectKey, IndexKey[]> _keysOf = [];
    private readonly Type _childType;
    private readonly Func<TItem, object> _convert;
    private readonly bool _byOwnerLabel;

    public ChildSource(Informer<TItem> informer, Func<TItem, V1ObjectMeta?> metaOf, Type childType, Func<TItem, object> convert, bool byOwnerLabel)
    {
        (_childType, _convert, _byOwnerLabel) = (childType, convert, byOwnerLabel);
        informer.Changed += (old, now) =>
        {
            var meta = (now ?? old) is { } item ? metaOf(item) : null;
            if (meta is not null)
            {
                var key = new ObjectKey(meta.NamespaceProperty ?? "", meta.Name ?? "");
                lock (_gate)
                {
                    Unindex(key);
                    if (now is not null) Index(key, now, meta);
                }
            }
            Changed?.Invoke(meta);
        };
    }

    public event Action<V1ObjectMeta?>? Changed;

    public ObservedChildren AddTo(ObservedChildren observed, KindDescriptor ownerKind, ObjectMeta owner)
    {
        var key = _byOwnerLabel
            ? new IndexKey(owner.Namespace ?? "", ownerKind.OwnerLabel, owner.Name ?? "")
            : new IndexKey(owner.Namespace ?? "", ControllerUid, owner.Uid ?? "");
        List<TItem> items;
        lock (_gate) items = _index.TryGetValue(key, out var found) ? [.. found.Values] : [];
        return observed.With(_childType, items.Select(_convert));
    }

    /// <summary>The index key of an owned child: no label key can be empty, so it cannot collide with a label's.</summary>
    private const string ControllerUid = "";

    private readonly record struct IndexKey(string Namespace, string Key, string Value);

    private void Index(ObjectKey item, TItem value, V1ObjectMeta meta)
    {
        var ns = meta.NamespaceProperty ?? "";
        IndexKey[] keys = _byOwnerLabel
            ? [.. (meta.Labels ?? new Dictionary<string, string>()).Select(l => new IndexKey(ns, l.Key, l.Value))]
            : [.. (meta.OwnerReferences ?? []).Where(o => o.Controller == true).Select(o => new IndexKey(ns, ControllerUid, o.Uid ?? ""))];
        _keysOf[item] = keys;
        foreach (var key in keys)
        {
            if (!_index.TryGetValue(key, out var set)) _index[key] = set = [];
            set[item] = value;
        }
    }

    private void Unindex(ObjectKey item)
    {
        if (!_keysOf.Remove(item, out var keys)) return;
        foreach (var key in keys)
            if (_index.TryGetValue(key, out var set) && set.Remove(item) && set.Count == 0) _index.Remove(key);
    }
}

/// <summary>How each family of children is read.</summary>
public static class ChildSource
{
    public static ChildSource<T> Owned<T>(Informer<T> informer) where T : class, IKubernetesObject<V1ObjectMeta> =>
        new(informer, t => t.Metadata, typeof(T), t => t, byOwnerLabel: false);

    /// <summary>Pods: their Job owns them, the resource's label names it.</summary>
    public static ChildSource<T> Labelled<T>(Informer<T> informer) where T : class, IKubernetesObject<V1ObjectMeta> =>
        new(informer, t => t.Metadata, typeof(T), t => t, byOwnerLabel: true);

    /// <summary>One of our kinds as a child (a DistillJob's ReidExperiment), typed from the informer's raw JSON.</summary>
    public static ChildSource<JsonObject> Custom(KindDescriptor kind, Informer<JsonObject> informer) =>
        new(informer, ChildIndex.MetaOf, kind.Type, raw => Snapshots.Read(kind.Type, raw).Resource, byOwnerLabel: false);
}

/// <summary>
/// Reads a resource's children from the informer caches, whatever their kinds, and maps a changed child to
/// the resource it belongs to, whatever the owner's kind.
/// </summary>
public sealed class ChildIndex(IReadOnlyList<IChildSource> sources)
{
    public IReadOnlyList<IChildSource> Sources => sources;

    public ObservedChildren Observe(KindDescriptor kind, ObjectMeta owner, DateTimeOffset now) =>
        sources.Aggregate(ObservedChildren.None(now), (observed, source) => source.AddTo(observed, kind, owner));

    internal static bool Controls(V1ObjectMeta meta, ObjectMeta owner) =>
        meta.OwnerReferences?.Any(o => o.Uid == owner.Uid && o.Controller == true) == true;

    /// <summary>The resource of <paramref name="kind"/> a child belongs to: its controlling owner reference, or (pods) the owner's label.</summary>
    public static ObjectKey? OwnerOf(V1ObjectMeta? meta, KindDescriptor kind)
    {
        if (meta is null) return null;
        var owner = meta.OwnerReferences?.FirstOrDefault(o => o.Controller == true && o.Kind == kind.Kind && o.ApiVersion == kind.ApiVersion);
        if (owner is not null) return new ObjectKey(meta.NamespaceProperty ?? "", owner.Name);
        return Label(meta, kind.OwnerLabel) is { Length: > 0 } name
            ? new ObjectKey(meta.NamespaceProperty ?? "", name)
            : null;
    }

    internal static string? Label(V1ObjectMeta? meta, string key) =>
        meta?.Labels is { } labels && labels.TryGetValue(key, out var value) ? value : null;

    /// <summary>The metadata of a raw resource, as the Kubernetes types read it.</summary>
    public static V1ObjectMeta? MetaOf(JsonObject resource) =>
        resource["metadata"] is JsonObject meta ? KubernetesJson.Deserialize<V1ObjectMeta>(meta.ToJsonString()) : null;

    public static ObjectKey KeyOf(JsonObject resource) =>
        new(resource["metadata"]?["namespace"]?.GetValue<string>() ?? "", resource["metadata"]?["name"]?.GetValue<string>() ?? "");

    public static long? GenerationOf(JsonObject resource) => resource["metadata"]?["generation"]?.GetValue<long>();

    public static string? PhaseOf(JsonObject resource) => resource["status"]?["phase"]?.GetValue<string>();
}
