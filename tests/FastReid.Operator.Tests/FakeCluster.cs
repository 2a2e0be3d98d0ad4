using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;
using FastReid.Pipeline.Experiments;
using k8s;
using k8s.Models;

namespace FastReid.Operator.Tests;

/// <summary>An in-memory API server for the controller's calls, with resourceVersion checks on status writes.</summary>
internal sealed class FakeCluster : IClusterApi
{
    private readonly object _gate = new();
    public Dictionary<string, JsonObject> Experiments { get; } = [];
    public Dictionary<string, IKubernetesObject<V1ObjectMeta>> Children { get; } = [];
    public List<string> Calls { get; } = [];
    public List<PlannedEvent> Events { get; } = [];
    public int StatusWrites { get; private set; }
    public bool FailEvents { get; set; }
    private long _version = 1;

    public void Apply(ReidExperiment experiment)
    {
        lock (_gate)
        {
            experiment.Metadata.ResourceVersion = (++_version).ToString();
            Experiments[$"{experiment.Metadata.Namespace}/{experiment.Metadata.Name}"] = JsonSerializer.SerializeToNode(experiment, ApiJson.Options)!.AsObject();
        }
    }

    public ReidExperiment Read(string ns, string name) => Experiments[$"{ns}/{name}"].Deserialize<ReidExperiment>(ApiJson.Options)!;

    public Task<ExperimentSnapshot?> GetExperimentAsync(string ns, string name, CancellationToken ct)
    {
        lock (_gate)
            return Task.FromResult(Experiments.TryGetValue($"{ns}/{name}", out var raw)
                ? KubernetesClusterApi.Snapshot((JsonObject)raw.DeepClone())
                : null);
    }

    public Task<bool> CreateAsync(string ns, IKubernetesObject<V1ObjectMeta> child, CancellationToken ct)
    {
        lock (_gate)
        {
            Calls.Add($"create {child.Kind}/{child.Metadata.Name}");
            return Task.FromResult(Children.TryAdd($"{child.Kind}/{child.Metadata.Name}", child));
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

    public Task SetJobSuspendAsync(string ns, string name, bool suspend, CancellationToken ct)
    {
        lock (_gate)
        {
            Calls.Add($"suspend Job/{name}={suspend}");
            ((V1Job)Children[$"Job/{name}"]).Spec.Suspend = suspend;
        }
        return Task.CompletedTask;
    }

    public Task ReplaceStatusAsync(ExperimentSnapshot snapshot, ReidExperimentStatus status, CancellationToken ct)
    {
        lock (_gate)
        {
            var key = $"{snapshot.Experiment.Metadata.Namespace}/{snapshot.Experiment.Metadata.Name}";
            var current = Experiments[key];
            if (current["metadata"]!["resourceVersion"]!.GetValue<string>() != snapshot.Experiment.Metadata.ResourceVersion)
                throw new ConflictException($"{key} changed");
            current["status"] = JsonSerializer.SerializeToNode(status, ApiJson.Options);
            current["metadata"]!["resourceVersion"] = (++_version).ToString();
            StatusWrites++;
        }
        return Task.CompletedTask;
    }

    public Task RecordEventAsync(ReidExperiment experiment, PlannedEvent planned, CancellationToken ct)
    {
        if (FailEvents) throw new HttpRequestException("events are full");
        lock (_gate) Events.Add(planned);
        return Task.CompletedTask;
    }

    /// <summary>The children as informers would show them.</summary>
    public ObservedChildren Observe(ReidExperiment experiment, DateTimeOffset now)
    {
        lock (_gate)
        {
            return new ObservedChildren
            {
                ConfigMaps = Children.Values.OfType<V1ConfigMap>().ToList(),
                Services = Children.Values.OfType<V1Service>().ToList(),
                Jobs = Children.Values.OfType<V1Job>().ToList(),
                Pods = Pods.ToList(),
                Now = now,
            };
        }
    }

    public List<V1Pod> Pods { get; } = [];
}
