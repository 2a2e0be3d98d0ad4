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
    public Dictionary<string, JsonObject> ExportJobs { get; } = [];
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

    public void Apply(ExportJob job)
    {
        lock (_gate)
        {
            job.Metadata.ResourceVersion = (++_version).ToString();
            ExportJobs[$"{job.Metadata.Namespace}/{job.Metadata.Name}"] = JsonSerializer.SerializeToNode(job, ApiJson.Options)!.AsObject();
        }
    }

    public ExportJob ReadExport(string ns, string name) => ExportJobs[$"{ns}/{name}"].Deserialize<ExportJob>(ApiJson.Options)!;

    public Task<ExportSnapshot?> GetExportJobAsync(string ns, string name, CancellationToken ct)
    {
        lock (_gate)
            return Task.FromResult(ExportJobs.TryGetValue($"{ns}/{name}", out var raw)
                ? KubernetesClusterApi.ExportSnapshotOf((JsonObject)raw.DeepClone())
                : null);
    }

    public Task ReplaceStatusAsync(ExportSnapshot snapshot, ExportJobStatus status, CancellationToken ct)
    {
        lock (_gate) WriteStatus(ExportJobs, snapshot.Job.Metadata, JsonSerializer.SerializeToNode(status, ApiJson.Options));
        return Task.CompletedTask;
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
        lock (_gate) WriteStatus(Experiments, snapshot.Experiment.Metadata, JsonSerializer.SerializeToNode(status, ApiJson.Options));
        return Task.CompletedTask;
    }

    private void WriteStatus(Dictionary<string, JsonObject> store, ObjectMeta read, JsonNode? status)
    {
        var key = $"{read.Namespace}/{read.Name}";
        var current = store[key];
        if (current["metadata"]!["resourceVersion"]!.GetValue<string>() != read.ResourceVersion)
            throw new ConflictException($"{key} changed");
        current["status"] = status;
        current["metadata"]!["resourceVersion"] = (++_version).ToString();
        StatusWrites++;
    }

    public Task RecordEventAsync(string kind, ObjectMeta involved, PlannedEvent planned, CancellationToken ct)
    {
        if (FailEvents) throw new HttpRequestException("events are full");
        lock (_gate) { Events.Add(planned); EventKinds.Add(kind); }
        return Task.CompletedTask;
    }

    /// <summary>The kind each recorded event was about, in order.</summary>
    public List<string> EventKinds { get; } = [];

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

    /// <summary>An export's Job and pods as informers would show them.</summary>
    public ObservedChildren ObserveExport(ExportJob job, DateTimeOffset now)
    {
        lock (_gate)
            return new ObservedChildren { Jobs = Children.Values.OfType<V1Job>().ToList(), Pods = Pods.ToList(), Now = now };
    }
}
