using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Pipeline;
using k8s;
using k8s.Models;

namespace FastReid.Operator.Tests;

/// <summary>An in-memory API server for the controller's calls, with resourceVersion checks on status writes.</summary>
internal sealed class FakeCluster : IClusterApi
{
    private readonly object _gate = new();
    /// <summary>Our resources by plural, then namespace/name.</summary>
    private readonly Dictionary<string, Dictionary<string, JsonObject>> _resources = [];
    public Dictionary<string, JsonObject> Experiments => Store(ResourceKinds.ReidExperiment);
    public Dictionary<string, JsonObject> ExportJobs => Store(ResourceKinds.ExportJob);
    public Dictionary<string, IKubernetesObject<V1ObjectMeta>> Children { get; } = [];
    public List<string> Calls { get; } = [];
    public List<PlannedEvent> Events { get; } = [];
    public int StatusWrites { get; private set; }
    public bool FailEvents { get; set; }
    /// <summary>What a child create or replace throws (a <see cref="ChildRejectedException"/> for a 422), or null to accept it.</summary>
    public Func<object, Exception?>? FailWrite { get; set; }
    private long _version = 1;

    private Dictionary<string, JsonObject> Store(KindDescriptor kind)
    {
        lock (_gate)
        {
            if (!_resources.TryGetValue(kind.Plural, out var store)) _resources[kind.Plural] = store = [];
            return store;
        }
    }

    public void Apply(ReidExperiment experiment) => Apply<ReidExperiment>(experiment);

    public void Apply(ExportJob job) => Apply<ExportJob>(job);

    private void Apply<T>(T resource) where T : ICustomResource
    {
        lock (_gate)
        {
            resource.Metadata.ResourceVersion = (++_version).ToString();
            Store(ResourceKinds.Of<T>())[$"{resource.Metadata.Namespace}/{resource.Metadata.Name}"] = JsonSerializer.SerializeToNode(resource, ApiJson.Options)!.AsObject();
        }
    }

    public ExportJob ReadExport(string ns, string name) => ExportJobs[$"{ns}/{name}"].Deserialize<ExportJob>(ApiJson.Options)!;

    public ReidExperiment Read(string ns, string name) => Experiments[$"{ns}/{name}"].Deserialize<ReidExperiment>(ApiJson.Options)!;

    public Task<JsonObject?> GetAsync(KindDescriptor kind, string ns, string name, CancellationToken ct)
    {
        lock (_gate)
            return Task.FromResult(Store(kind).TryGetValue($"{ns}/{name}", out var raw) ? (JsonObject?)raw.DeepClone() : null);
    }

    public Task<bool> CreateAsync(string ns, object child, CancellationToken ct)
    {
        lock (_gate)
        {
            Calls.Add($"create {ChildObjects.Kind(child)}/{ChildObjects.Name(child)}");
            if (FailWrite?.Invoke(child) is { } failure) throw failure;
            return Task.FromResult(Children.TryAdd($"{ChildObjects.Kind(child)}/{ChildObjects.Name(child)}", (IKubernetesObject<V1ObjectMeta>)child));
        }
    }

    public Task<bool> ReplaceAsync(string ns, object child, CancellationToken ct)
    {
        lock (_gate)
        {
            var key = $"{ChildObjects.Kind(child)}/{ChildObjects.Name(child)}";
            Calls.Add($"update {key}");
            if (FailWrite?.Invoke(child) is { } failure) throw failure;
            if (!Children.ContainsKey(key)) return Task.FromResult(false);
            Children[key] = (IKubernetesObject<V1ObjectMeta>)child;
            return Task.FromResult(true);
        }
    }

    public Task<bool> DeleteAsync(string ns, DeleteChild child, CancellationToken ct)
    {
        lock (_gate)
        {
            Calls.Add($"delete {child.Kind}/{child.Name}");
            return Task.FromResult(Children.Remove($"{child.Kind}/{child.Name}"));
        }
    }

    public Task MergePatchAsync(string ns, string apiVersion, string kind, string name, JsonObject patch, CancellationToken ct)
    {
        lock (_gate)
        {
            var suspend = patch["spec"]!["suspend"]!.GetValue<bool>();
            Calls.Add($"suspend Job/{name}={suspend}");
            ((V1Job)Children[$"Job/{name}"]).Spec.Suspend = suspend;
        }
        return Task.CompletedTask;
    }

    public Task ReplaceStatusAsync(KindDescriptor kind, JsonObject read, JsonNode? status, CancellationToken ct)
    {
        lock (_gate)
        {
            var key = $"{read["metadata"]!["namespace"]}/{read["metadata"]!["name"]}";
            var current = Store(kind)[key];
            if (current["metadata"]!["resourceVersion"]!.GetValue<string>() != read["metadata"]!["resourceVersion"]!.GetValue<string>())
                throw new ConflictException($"{key} changed");
            current["status"] = status?.DeepClone();
            current["metadata"]!["resourceVersion"] = (++_version).ToString();
            StatusWrites++;
        }
        return Task.CompletedTask;
    }

    public Task RecordEventAsync(KindDescriptor kind, ObjectMeta involved, PlannedEvent planned, CancellationToken ct)
    {
        if (FailEvents) throw new HttpRequestException("events are full");
        lock (_gate) { Events.Add(planned); EventKinds.Add(kind.Kind); }
        return Task.CompletedTask;
    }

    /// <summary>The kind each recorded event was about, in order.</summary>
    public List<string> EventKinds { get; } = [];

    public List<V1Pod> Pods { get; } = [];

    /// <summary>The children as informers would show them (one owner at a time in these tests, so all of them).</summary>
    public ObservedChildren Observe(KindDescriptor kind, ObjectMeta owner, DateTimeOffset now)
    {
        lock (_gate)
        {
            return ObservedChildren.None(now)
                .With(Children.Values.OfType<V1ConfigMap>())
                .With(Children.Values.OfType<V1Service>())
                .With(Children.Values.OfType<V1Job>())
                .With(Pods.ToList());
        }
    }
}
