using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FastReid.Operator.Kube;

/// <summary>
/// <see cref="IClusterApi"/> on the real Kubernetes client. Our kinds go through the custom-objects API by
/// their descriptor; Kubernetes children through the typed client calls of the kinds planners make (so the
/// chart's RBAC can be read off this file).
/// </summary>
public sealed class KubernetesClusterApi(IKubernetes client, string identity) : IClusterApi
{
    /// <summary>
    /// Our kinds that controllers create, replace and delete as children (a DistillJob's or TuneSweep's
    /// ReidExperiments); any other kind as a child is refused, so RBAC stays what this list says.
    /// </summary>
    public static readonly IReadOnlyList<KindDescriptor> ChildKinds = [ResourceKinds.ReidExperiment];

    public async Task<JsonObject?> GetAsync(KindDescriptor kind, string ns, string name, CancellationToken ct)
    {
        try
        {
            return ToJsonObject(await client.CustomObjects.GetNamespacedCustomObjectAsync(kind.Group, kind.Version, ns, kind.Plural, name, ct).ConfigureAwait(false));
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public static JsonObject ToJsonObject(object body) => body switch
    {
        JsonElement element => JsonObject.Create(element) ?? throw new JsonException("expected an object"),
        JsonObject obj => obj,
        _ => JsonNode.Parse(KubernetesJson.Serialize(body))!.AsObject(),
    };

    public async Task<bool> CreateAsync(string ns, object child, CancellationToken ct)
    {
        try
        {
            switch (child)
            {
                case V1ConfigMap configMap: await client.CoreV1.CreateNamespacedConfigMapAsync(configMap, ns, cancellationToken: ct).ConfigureAwait(false); break;
                case V1Service service: await client.CoreV1.CreateNamespacedServiceAsync(service, ns, cancellationToken: ct).ConfigureAwait(false); break;
                case V1Job job: await client.BatchV1.CreateNamespacedJobAsync(job, ns, cancellationToken: ct).ConfigureAwait(false); break;
                case ICustomResource resource:
                    var childKind = ChildKind(resource);
                    await client.CustomObjects.CreateNamespacedCustomObjectAsync(Body(resource), childKind.Group, childKind.Version, ns, childKind.Plural, cancellationToken: ct).ConfigureAwait(false);
                    break;
                default: throw new ArgumentException($"cannot create {ChildObjects.Kind(child)}", nameof(child));
            }
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            return false;
        }
        catch (HttpOperationException e) when (IsRejection(e))
        {
            throw Rejected(e);
        }
    }

    /// <summary>Only what may change in place: a ConfigMap, one of our child resources (never a Job: its template is immutable).</summary>
    public async Task<bool> ReplaceAsync(string ns, object child, CancellationToken ct)
    {
        var name = ChildObjects.Name(child);
        try
        {
            switch (child)
            {
                case V1ConfigMap configMap: await client.CoreV1.ReplaceNamespacedConfigMapAsync(configMap, name, ns, cancellationToken: ct).ConfigureAwait(false); break;
                case ICustomResource resource:
                    var childKind = ChildKind(resource);
                    await client.CustomObjects.ReplaceNamespacedCustomObjectAsync(Body(resource), childKind.Group, childKind.Version, ns, childKind.Plural, name, cancellationToken: ct).ConfigureAwait(false);
                    break;
                default: throw new ArgumentException($"cannot update {ChildObjects.Kind(child)} in place", nameof(child));
            }
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            throw new ConflictException($"{ns}/{name} changed since it was observed");
        }
        catch (HttpOperationException e) when (IsRejection(e))
        {
            throw Rejected(e);
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
                default:
                    var childKind = ChildKinds.FirstOrDefault(k => k.ApiVersion == child.ApiVersion && k.Kind == child.Kind)
                        ?? throw new ArgumentException($"cannot delete {child.Kind}", nameof(child));
                    await client.CustomObjects.DeleteNamespacedCustomObjectAsync(childKind.Group, childKind.Version, ns, childKind.Plural, child.Name,
                        propagationPolicy: "Background", cancellationToken: ct).ConfigureAwait(false);
                    break;
            }
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task MergePatchAsync(string ns, string apiVersion, string kind, string name, JsonObject patch, CancellationToken ct)
    {
        if ((apiVersion, kind) != ("batch/v1", "Job")) throw new ArgumentException($"cannot patch {kind}", nameof(kind));
        try
        {
            await client.BatchV1.PatchNamespacedJobAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), name, ns, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (IsRejection(e))
        {
            throw Rejected(e);
        }
    }

    /// <summary>422 Invalid or 400 BadRequest: the object itself is refused, and sending it again cannot help.</summary>
    private static bool IsRejection(HttpOperationException e) =>
        e.Response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest;

    /// <summary>The <c>message</c> of the server's Status body (what kubectl prints), or the client's text without one.</summary>
    private static ChildRejectedException Rejected(HttpOperationException e)
    {
        try
        {
            if (JsonNode.Parse(e.Response.Content ?? "") is JsonObject { } body && body["message"] is JsonValue message && message.TryGetValue<string>(out var text))
                return new ChildRejectedException(text);
        }
        catch (JsonException)
        {
            // not a Status body: fall back to the client's message
        }
        return new ChildRejectedException($"HTTP {(int)e.Response.StatusCode}: {e.Response.Content ?? e.Message}");
    }

    public async Task ReplaceStatusAsync(KindDescriptor kind, JsonObject read, JsonNode? status, CancellationToken ct)
    {
        var body = read.DeepClone().AsObject();
        body["status"] = status;
        var ns = read["metadata"]?["namespace"]?.GetValue<string>() ?? "";
        var name = read["metadata"]?["name"]?.GetValue<string>() ?? "";
        try
        {
            await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(body, kind.Group, kind.Version, ns, kind.Plural, name, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            throw new ConflictException($"{ns}/{name} changed since it was read (resourceVersion {read["metadata"]?["resourceVersion"]})");
        }
    }

    public async Task RecordEventAsync(KindDescriptor kind, ObjectMeta meta, PlannedEvent planned, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        await client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = meta.Name + ".", NamespaceProperty = meta.Namespace },
            InvolvedObject = new V1ObjectReference
            {
                ApiVersion = kind.ApiVersion, Kind = kind.Kind, Name = meta.Name, NamespaceProperty = meta.Namespace,
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

    private static KindDescriptor ChildKind(ICustomResource resource) =>
        ChildKinds.FirstOrDefault(k => k.Type == resource.GetType())
        ?? throw new ArgumentException($"{resource.Kind} is not a kind the operator creates as a child", nameof(resource));

    private static JsonNode Body(ICustomResource resource) => JsonSerializer.SerializeToNode(resource, resource.GetType(), ApiJson.Options)!;
}
