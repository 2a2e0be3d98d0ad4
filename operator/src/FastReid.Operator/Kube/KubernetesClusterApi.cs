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
    public const string Plural = "reidexperiments";

    public async Task<ExperimentSnapshot?> GetExperimentAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            var body = await client.CustomObjects.GetNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, ns, Plural, name, ct).ConfigureAwait(false);
            return Snapshot(ToJsonObject(body));
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public static ExperimentSnapshot Snapshot(JsonObject raw)
    {
        try
        {
            return new(raw.Deserialize<ReidExperiment>(ApiJson.Options) ?? throw new JsonException("empty ReidExperiment"), raw);
        }
        catch (JsonException e)
        {
            // A server that does not check the schema (or an old object) can hold a spec we cannot type:
            // read what identifies it, and report the field instead of failing every reconcile.
            var experiment = new ReidExperiment
            {
                Metadata = raw["metadata"]?.Deserialize<ObjectMeta>(ApiJson.Options) ?? new ObjectMeta(),
                Status = TryStatus(raw["status"]),
            };
            var path = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : "spec";
            var reason = e.Message.Split(". Path:", 2)[0].TrimEnd('.');
            return new(experiment, raw, new FieldError(path, $"has the wrong type: {reason}"));
        }
    }

    private static ReidExperimentStatus? TryStatus(JsonNode? status)
    {
        try { return status?.Deserialize<ReidExperimentStatus>(ApiJson.Options); }
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

    public async Task ReplaceStatusAsync(ExperimentSnapshot snapshot, ReidExperimentStatus status, CancellationToken ct)
    {
        var body = snapshot.Raw.DeepClone().AsObject();
        body["status"] = JsonSerializer.SerializeToNode(status, ApiJson.Options);
        var meta = snapshot.Experiment.Metadata;
        try
        {
            await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(body, ApiGroup.Group, ApiGroup.Version, meta.Namespace!, Plural, meta.Name!, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            throw new ConflictException($"{meta.Namespace}/{meta.Name} changed since it was read (resourceVersion {meta.ResourceVersion})");
        }
    }

    public async Task RecordEventAsync(ReidExperiment experiment, PlannedEvent planned, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        var meta = experiment.Metadata;
        await client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = meta.Name + ".", NamespaceProperty = meta.Namespace },
            InvolvedObject = new V1ObjectReference
            {
                ApiVersion = ApiGroup.ApiVersion, Kind = experiment.Kind, Name = meta.Name, NamespaceProperty = meta.Namespace,
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
