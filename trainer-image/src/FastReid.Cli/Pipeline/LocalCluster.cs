using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using FastReid.Storage;
using k8s;
using k8s.Models;

namespace FastReid.Cli.Pipeline;

/// <summary>
/// The API server of <c>fastreid pipeline run</c>: every object the planners read and write (our four kinds and the
/// ConfigMaps, Services, Jobs and pods they make), one JSON file each under <c>STATE/objects/KIND/NAMESPACE.NAME.json</c>,
/// written atomically on every change, so a runner killed at any point leaves a state the next one continues from.
/// Creating assigns the uid, generation 1 and the creation time as the API server does; deleting takes the objects the
/// deleted one controls with it (the garbage collector's part); an object that exists is not created again.
/// </summary>
internal sealed class LocalCluster
{
    private readonly string _dir;
    private readonly SortedDictionary<string, object> _objects = new(StringComparer.Ordinal);
    /// <summary>Pods record their processes from their own tasks while the runner's loop plans.</summary>
    private readonly Lock _gate = new();

    private LocalCluster(string dir) => _dir = dir;

    public string Dir => _dir;

    /// <summary>Opens (and creates) the state folder and reads every object in it.</summary>
    public static LocalCluster Open(string dir)
    {
        var cluster = new LocalCluster(Path.GetFullPath(dir));
        var objects = Directory.CreateDirectory(Path.Combine(cluster._dir, "objects"));
        foreach (var file in objects.EnumerateFiles("*.json", SearchOption.AllDirectories).OrderBy(f => f.FullName, StringComparer.Ordinal))
        {
            if (AtomicFile.IsTemporary(file.FullName)) continue;
            var kind = file.Directory!.Name;
            object item;
            try { item = Read(kind, File.ReadAllText(file.FullName)); }
            catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException)
            {
                throw new FastReidException($"the pipeline state file {file.FullName} cannot be read ({e.Message}); remove it, or the state folder to start over");
            }
            cluster._objects[Key(kind, Namespace(item), ChildObjects.Name(item))] = item;
        }
        return cluster;
    }

    /// <summary>Every object of <typeparamref name="T"/>, by namespace and name.</summary>
    public IReadOnlyList<T> All<T>()
    {
        lock (_gate) return [.. _objects.Values.OfType<T>()];
    }

    public T? Get<T>(string ns, string name) where T : class
    {
        lock (_gate) return _objects.GetValueOrDefault(Key(KindOf(typeof(T)), ns, name)) as T;
    }

    /// <summary>Creates <paramref name="item"/> in <paramref name="ns"/> unless an object of its kind and name exists; true when created.</summary>
    public bool Create(string ns, object item, DateTimeOffset now)
    {
        lock (_gate) return CreateLocked(ns, item, now);
    }

    private bool CreateLocked(string ns, object item, DateTimeOffset now)
    {
        var key = Key(ChildObjects.Kind(item), ns, ChildObjects.Name(item));
        if (_objects.ContainsKey(key)) return false;
        switch (item)
        {
            case ICustomResource c:
                c.Metadata.Namespace = ns;
                c.Metadata.Uid ??= Guid.NewGuid().ToString();
                c.Metadata.Generation ??= 1;
                c.Metadata.CreationTimestamp ??= now;
                break;
            case IKubernetesObject<V1ObjectMeta> k:
                k.Metadata.NamespaceProperty = ns;
                k.Metadata.Uid ??= Guid.NewGuid().ToString();
                k.Metadata.CreationTimestamp ??= now.UtcDateTime;
                break;
        }
        _objects[key] = item;
        Save(item);
        return true;
    }

    /// <summary>Writes a changed object (its status, a Job's suspend, a ConfigMap's data); false when it does not exist.</summary>
    public bool Replace(object item)
    {
        lock (_gate) return ReplaceLocked(item);
    }

    private bool ReplaceLocked(object item)
    {
        var key = Key(ChildObjects.Kind(item), Namespace(item), ChildObjects.Name(item));
        if (!_objects.ContainsKey(key)) return false;
        _objects[key] = item;
        Save(item);
        return true;
    }

    /// <summary>Deletes an object and, recursively, every object it controls.</summary>
    public void Delete(string kind, string ns, string name)
    {
        lock (_gate) DeleteLocked(kind, ns, name);
    }

    private void DeleteLocked(string kind, string ns, string name)
    {
        if (!_objects.Remove(Key(kind, ns, name), out var item)) return;
        File.Delete(PathOf(kind, ns, name));
        var uid = Uid(item);
        foreach (var owned in _objects.Values.Where(o => Namespace(o) == ns && Controls(uid, o)).ToList())
            DeleteLocked(ChildObjects.Kind(owned), ns, ChildObjects.Name(owned));
    }

    /// <summary>
    /// The children of <paramref name="owner"/> as the operator's informers give them: the objects it controls by
    /// owner reference, and (pods, which a Job owns) those carrying its kind's owner label with its name.
    /// </summary>
    public ObservedChildren Observe(ICustomResource owner, DateTimeOffset now)
    {
        var kind = ResourceKinds.Of(owner.GetType());
        var ns = owner.Metadata.Namespace ?? "default";
        List<object> mine;
        lock (_gate) mine = _objects.Values.Where(o => Namespace(o) == ns).ToList();
        bool Owned(object o) => Controls(owner.Metadata.Uid, o);
        return ObservedChildren.None(now)
            .With(mine.OfType<V1ConfigMap>().Where(Owned))
            .With(mine.OfType<V1Service>().Where(Owned))
            .With(mine.OfType<V1Job>().Where(Owned))
            .With(mine.OfType<V1Pod>().Where(p => p.Metadata.Labels is { } labels && labels.TryGetValue(kind.OwnerLabel, out var value) && value == owner.Metadata.Name))
            .With(mine.OfType<ReidExperiment>().Where(Owned));
    }

    private static bool Controls(string? uid, object item) => uid is not null && item switch
    {
        ICustomResource c => c.Metadata.OwnerReferences?.Any(o => o.Uid == uid && o.Controller == true) == true,
        IKubernetesObject<V1ObjectMeta> k => k.Metadata.OwnerReferences?.Any(o => o.Uid == uid && o.Controller == true) == true,
        _ => false,
    };

    private void Save(object item) =>
        AtomicFile.WriteAllText(PathOf(ChildObjects.Kind(item), Namespace(item), ChildObjects.Name(item)), Write(item));

    private string PathOf(string kind, string ns, string name)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "objects", kind)).FullName;
        return Path.Combine(folder, $"{ns}.{name}.json");
    }

    private static string Key(string kind, string? ns, string name) => $"{kind}/{ns}/{name}";

    internal static string Namespace(object item) => item switch
    {
        ICustomResource c => c.Metadata.Namespace ?? "default",
        IKubernetesObject<V1ObjectMeta> k => k.Metadata.NamespaceProperty ?? "default",
        _ => "default",
    };

    private static string? Uid(object item) => item switch
    {
        ICustomResource c => c.Metadata.Uid,
        IKubernetesObject<V1ObjectMeta> k => k.Metadata.Uid,
        _ => null,
    };

    private static string KindOf(Type type) =>
        ResourceKinds.All.FirstOrDefault(k => k.Type == type)?.Kind
        ?? (type == typeof(V1ConfigMap) ? "ConfigMap" : type == typeof(V1Service) ? "Service" : type == typeof(V1Job) ? "Job" : type == typeof(V1Pod) ? "Pod"
            : throw new ArgumentException($"{type.Name} is not kept by the local cluster", nameof(type)));

    private static string Write(object item) => item is ICustomResource ? System.Text.Json.JsonSerializer.Serialize(item, item.GetType(), ApiJson.Options) : KubernetesJson.Serialize(item);

    private static object Read(string kind, string json) => kind switch
    {
        "ConfigMap" => KubernetesJson.Deserialize<V1ConfigMap>(json),
        "Service" => KubernetesJson.Deserialize<V1Service>(json),
        "Job" => KubernetesJson.Deserialize<V1Job>(json),
        "Pod" => KubernetesJson.Deserialize<V1Pod>(json),
        _ => ResourceKinds.All.FirstOrDefault(k => k.Kind == kind) is { } descriptor
            ? System.Text.Json.JsonSerializer.Deserialize(json, descriptor.Type, ApiJson.Options) ?? throw new ArgumentException("the file holds null")
            : throw new ArgumentException($"no kind {kind}"),
    };
}
