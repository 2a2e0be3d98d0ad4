using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Runtime;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Exports;
using k8s.Models;

namespace FastReid.Operator.Hosting;

/// <summary>
/// Maps changes of owned objects to the resource to reconcile, and reads a resource's children from the
/// informer caches (owned by its uid; pods by the owner's label, since a Job owns them).
/// </summary>
public sealed class ChildIndex(Informer<V1Job> jobs, Informer<V1Service> services, Informer<V1ConfigMap> configMaps, Informer<V1Pod> pods)
{
    public const string ExperimentKind = "ReidExperiment";
    public const string ExportKind = "ExportJob";

    /// <summary>The pod label that names the owning resource, by kind.</summary>
    private static string OwnerLabel(string kind) => kind == ExportKind ? ExportNames.ExportLabel : ExperimentNames.ExperimentLabel;

    public ObservedChildren Observe(ReidExperiment experiment, DateTimeOffset now)
    {
        var meta = experiment.Metadata;
        return new ObservedChildren
        {
            Jobs = jobs.Snapshot().Where(j => Owned(j.Metadata, meta)).ToList(),
            Services = services.Snapshot().Where(s => Owned(s.Metadata, meta)).ToList(),
            ConfigMaps = configMaps.Snapshot().Where(c => Owned(c.Metadata, meta)).ToList(),
            Pods = PodsOf(ExperimentKind, meta),
            Now = now,
        };
    }

    /// <summary>An export's Job and pod (it has no Service or ConfigMap).</summary>
    public ObservedChildren ObserveExport(ExportJob export, DateTimeOffset now) => new()
    {
        Jobs = jobs.Snapshot().Where(j => Owned(j.Metadata, export.Metadata)).ToList(),
        Pods = PodsOf(ExportKind, export.Metadata),
        Now = now,
    };

    private static bool Owned(V1ObjectMeta? m, ObjectMeta owner) => m is not null && m.NamespaceProperty == owner.Namespace
        && m.OwnerReferences?.Any(o => o.Uid == owner.Uid && o.Controller == true) == true;

    private List<V1Pod> PodsOf(string kind, ObjectMeta owner) => pods.Snapshot()
        .Where(p => p.Metadata?.NamespaceProperty == owner.Namespace && Label(p.Metadata, OwnerLabel(kind)) == owner.Name).ToList();

    /// <summary>The resource of <paramref name="kind"/> a child belongs to: its controlling owner reference, or (pods) the owner's label.</summary>
    public static ObjectKey? OwnerOf(V1ObjectMeta? meta, string kind = ExperimentKind)
    {
        if (meta is null) return null;
        var owner = meta.OwnerReferences?.FirstOrDefault(o => o.Controller == true && o.Kind == kind && o.ApiVersion == ApiGroup.ApiVersion);
        if (owner is not null) return new ObjectKey(meta.NamespaceProperty ?? "", owner.Name);
        return Label(meta, OwnerLabel(kind)) is { Length: > 0 } name
            ? new ObjectKey(meta.NamespaceProperty ?? "", name)
            : null;
    }

    /// <summary>The ExportJobs among <paramref name="exports"/> that read the given experiment.</summary>
    public static IEnumerable<ObjectKey> ExportsOf(ObjectKey experiment, IEnumerable<JsonObject> exports) =>
        exports.Select(e => (Key: KeyOf(e), Ref: e["spec"]?["source"]?["experimentRef"]?["name"]))
            .Where(e => e.Key.Namespace == experiment.Namespace && e.Ref is JsonValue v && v.TryGetValue<string>(out var name) && name == experiment.Name)
            .Select(e => e.Key);

    private static string? Label(V1ObjectMeta? meta, string key) =>
        meta?.Labels is { } labels && labels.TryGetValue(key, out var value) ? value : null;

    public static ObjectKey KeyOf(JsonObject resource) =>
        new(resource["metadata"]?["namespace"]?.GetValue<string>() ?? "", resource["metadata"]?["name"]?.GetValue<string>() ?? "");

    public static string? PhaseOf(JsonObject resource) => resource["status"]?["phase"]?.GetValue<string>();
}
