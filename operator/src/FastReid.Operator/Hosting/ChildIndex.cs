using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Runtime;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Operator.Hosting;

/// <summary>
/// Maps changes of owned objects to the experiment to reconcile, and reads an experiment's children from the
/// informer caches (owned by its uid; pods by the experiment label, since a Job owns them).
/// </summary>
public sealed class ChildIndex(Informer<V1Job> jobs, Informer<V1Service> services, Informer<V1ConfigMap> configMaps, Informer<V1Pod> pods)
{
    public ObservedChildren Observe(ReidExperiment experiment, DateTimeOffset now)
    {
        var ns = experiment.Metadata.Namespace;
        var uid = experiment.Metadata.Uid;
        bool Owned(V1ObjectMeta? m) => m is not null && m.NamespaceProperty == ns
            && m.OwnerReferences?.Any(o => o.Uid == uid && o.Controller == true) == true;
        return new ObservedChildren
        {
            Jobs = jobs.Snapshot().Where(j => Owned(j.Metadata)).ToList(),
            Services = services.Snapshot().Where(s => Owned(s.Metadata)).ToList(),
            ConfigMaps = configMaps.Snapshot().Where(c => Owned(c.Metadata)).ToList(),
            Pods = pods.Snapshot().Where(p => p.Metadata?.NamespaceProperty == ns
                && Label(p.Metadata, ExperimentNames.ExperimentLabel) == experiment.Metadata.Name).ToList(),
            Now = now,
        };
    }

    /// <summary>The experiment a child belongs to: its controlling owner reference, or (pods) the experiment label.</summary>
    public static ObjectKey? OwnerOf(V1ObjectMeta? meta)
    {
        if (meta is null) return null;
        var owner = meta.OwnerReferences?.FirstOrDefault(o => o.Controller == true && o.Kind == "ReidExperiment" && o.ApiVersion == ApiGroup.ApiVersion);
        if (owner is not null) return new ObjectKey(meta.NamespaceProperty ?? "", owner.Name);
        return Label(meta, ExperimentNames.ExperimentLabel) is { Length: > 0 } name
            ? new ObjectKey(meta.NamespaceProperty ?? "", name)
            : null;
    }

    private static string? Label(V1ObjectMeta? meta, string key) =>
        meta?.Labels is { } labels && labels.TryGetValue(key, out var value) ? value : null;

    public static ObjectKey KeyOf(JsonObject experiment) =>
        new(experiment["metadata"]?["namespace"]?.GetValue<string>() ?? "", experiment["metadata"]?["name"]?.GetValue<string>() ?? "");

    public static string? PhaseOf(JsonObject experiment) => experiment["status"]?["phase"]?.GetValue<string>();
}
