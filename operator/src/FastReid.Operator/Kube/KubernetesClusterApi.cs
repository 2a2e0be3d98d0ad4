using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FastReid.Operator.Kube;

/// <summary><see cref="IClusterApi"/> on the real Kubernetes client.</summary>
public sealed class KubernetesClusterApi(IKubernetes client, string identity) : IClusterApi
{
    /// <summary>Plural of ReidExperiment.</summary>
    public const string Plural = "reidexperiments";
    public const string ExportPlural = "exportjobs";

    /// <summary>Every kind the operator reads and writes status of (what a call with a plural parameter may touch).</summary>
    public static readonly string[] Plurals = [Plural, ExportPlural];

    public async Task<ExperimentSnapshot?> GetExperimentAsync(string ns, string name, CancellationToken ct) =>
        await GetAsync(ns, Plural, name, ct).ConfigureAwait(false) is { } raw ? Snapshot(raw) : null;

    public async Task<ExportSnapshot?> GetExportJobAsync(string ns, string name, CancellationToken ct) =>
        await GetAsync(ns, ExportPlural, name, ct).ConfigureAwait(false) is { } raw ? ExportSnapshotOf(raw) : null;

    private async Task<JsonObject?> GetAsync(string ns, string plural, string name, CancellationToken ct)
    {
        try
        {
            return ToJsonObject(await client.CustomObjects.GetNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, ns, plural, name, ct).ConfigureAwait(false));
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public static ExperimentSnapshot Snapshot(JsonObject raw)
    {
        var (experiment, error) = Read<ReidExperiment, ReidExperimentSpec, ReidExperimentStatus>(raw);
        return new(experiment, raw, error);
    }

    public static ExportSnapshot ExportSnapshotOf(JsonObject raw)
    {
        var (job, error) = Read<ExportJob, ExportJobSpec, ExportJobStatus>(raw);
        return new(job, raw, error);
    }

    private static (T Resource, FieldError? Error) Read<T, TSpec, TStatus>(JsonObject raw)
        where T : CustomResource<TSpec, TStatus>, new()
        where TSpec : new()
        where TStatus : ResourceStatus, new()
    {
        try
        {
            return (raw.Deserialize<T>(ApiJson.Options) ?? throw new JsonException($"empty {typeof(T).Name}"), null);
        }
        catch (JsonException e)
        {
            // A server that does not check the schema (or an old object) can hold a spec we cannot type:
            // read what identifies it, and report the field instead of failing every reconcile.
            var resource = new T
            {
                Metadata = raw["metadata"]?.Deserialize<ObjectMeta>(ApiJson.Options) ?? new ObjectMeta(),
                Status = TryStatus<TStatus>(raw["status"]),
            };
            var path = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : "spec";
            var reason = e.Message.Split(". Path:", 2)[0].TrimEnd('.');
            return (resource, new FieldError(path, $"has the wrong type: {reason}"));
        }
    }

    private static TStatus? TryStatus<TStatus>(JsonNode? status) where TStatus : ResourceStatus
    {
        try { return status?.Deserialize<TStatus>(ApiJson.Options); }
        catch (JsonException) { return null; }
    }

    public static JsonObject ToJsonObject(object body) => body switch
    {
        JsonElement element => JsonObject.Create(element) ?? throw new JsonException("expected an object"),
        JsonObject obj => obj,
        _ => JsonNode.Parse(KubernetesJson.Serialize(body))!.AsObject(),
    };

    public async Task<bool> CreateAsync(string ns, IKubernetesObject<V1ObjectMeta> child, CancellationToken ct)
    {
        try
        {
            switch (child)
            {
                case V1ConfigMap configMap: await client.CoreV1.CreateNamespacedConfigMapAsync(configMap, ns, cancellationToken: ct).ConfigureAwait(false); break;
                case V1Service service: await client.CoreV1.CreateNamespacedServiceAsync(service, ns, cancellationToken: ct).ConfigureAwait(false); break;
                case V1Job job: await client.BatchV1.CreateNamespacedJobAsync(job, ns, cancellationToken: ct).ConfigureAwait(false); break;
                default: throw new ArgumentException($"cannot create {child.Kind}", nameof(child));
            }
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            return false;
        }
    }

    public async Task<bool> DeleteAsync(string ns, DeleteChild child, CancellationToken ct)
    {
        try
        {
            switch (child.Kind)
            {
                case "Job": await client.BatchV1.DeleteNamespacedJobAsync(child.Name, ns, propagationPolicy: "Background", cancellationToken: ct).ConfigureAwait(false); break;
                case "Service": await client.CoreV1.DeleteNamespacedServiceAsync(child.Name, ns, cancellationToken: ct).ConfigureAwait(false); break;
                case "ConfigMap": await client.CoreV1.DeleteNamespacedConfigMapAsync(child.Name, ns, cancellationToken: ct).ConfigureAwait(false); break;
                default: throw new ArgumentException($"cannot delete {child.Kind}", nameof(child));
            }
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public Task SetJobSuspendAsync(string ns, string name, bool suspend, CancellationToken ct) =>
        client.BatchV1.PatchNamespacedJobAsync(
            new V1Patch(suspend ? """{"spec":{"suspend":true}}""" : """{"spec":{"suspend":false}}""", V1Patch.PatchType.MergePatch), name, ns, cancellationToken: ct);

    public Task ReplaceStatusAsync(ExperimentSnapshot snapshot, ReidExperimentStatus status, CancellationToken ct) =>
        ReplaceStatusAsync(snapshot.Raw, snapshot.Experiment.Metadata, Plural, JsonSerializer.SerializeToNode(status, ApiJson.Options), ct);

    public Task ReplaceStatusAsync(ExportSnapshot snapshot, ExportJobStatus status, CancellationToken ct) =>
        ReplaceStatusAsync(snapshot.Raw, snapshot.Job.Metadata, ExportPlural, JsonSerializer.SerializeToNode(status, ApiJson.Options), ct);

    private async Task ReplaceStatusAsync(JsonObject raw, ObjectMeta meta, string plural, JsonNode? status, CancellationToken ct)
    {
        var body = raw.DeepClone().AsObject();
        body["status"] = status;
        try
        {
            await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(body, ApiGroup.Group, ApiGroup.Version, meta.Namespace!, plural, meta.Name!, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            throw new ConflictException($"{meta.Namespace}/{meta.Name} changed since it was read (resourceVersion {meta.ResourceVersion})");
        }
    }

    public async Task RecordEventAsync(string kind, ObjectMeta meta, PlannedEvent planned, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        await client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = meta.Name + ".", NamespaceProperty = meta.Namespace },
            InvolvedObject = new V1ObjectReference
            {
                ApiVersion = ApiGroup.ApiVersion, Kind = kind, Name = meta.Name, NamespaceProperty = meta.Namespace,
                Uid = meta.Uid, ResourceVersion = meta.ResourceVersion,
            },
            Type = planned.Type,
            Reason = planned.Reason,
            Message = planned.Message.Length > 1024 ? planned.Message[..1024] : planned.Message,
            Source = new V1EventSource { Component = "fastreid-operator" },
            ReportingComponent = "fastreid.io/operator",
            ReportingInstance = identity,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        }, meta.Namespace, cancellationToken: ct).ConfigureAwait(false);
    }
}
