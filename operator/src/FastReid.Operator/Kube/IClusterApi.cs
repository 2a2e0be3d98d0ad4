using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;

namespace FastReid.Operator.Kube;

/// <summary>
/// One of our resources as read from the API server: typed for the planner, raw for a faithful status write.
/// <see cref="ReadError"/> names the field that did not fit the type (then only metadata and status are read).
/// </summary>
public sealed record Snapshot<T>(T Resource, JsonObject Raw, FieldError? ReadError = null) where T : class, ICustomResource;

/// <summary>Thrown when a write lost an optimistic-concurrency race (HTTP 409 on update): re-read and try again.</summary>
public sealed class ConflictException(string message) : Exception(message);

/// <summary>
/// Thrown when the API server refuses a child as invalid (HTTP 422 Invalid or 400 BadRequest: a validation rule, a
/// CRD schema, an admission policy). Sending the same object again cannot succeed, so it is not retried;
/// <see cref="Exception.Message"/> is the server's own message.
/// </summary>
public sealed class ChildRejectedException(string message) : Exception(message);

/// <summary>
/// The API calls the controllers make, the same for every kind; "already exists" and "not found" are not
/// errors. A child is a Kubernetes object or one of our resources (a ReidExperiment a DistillJob owns). A child the
/// server refuses as invalid throws <see cref="ChildRejectedException"/>; other failures throw and are retried.
/// </summary>
public interface IClusterApi
{
    /// <summary>One of our resources as the server holds it, or null when it does not exist.</summary>
    Task<JsonObject?> GetAsync(KindDescriptor kind, string ns, string name, CancellationToken ct);

    /// <summary>Replaces the status through the status subresource, guarded by the resourceVersion of <paramref name="read"/>.</summary>
    Task ReplaceStatusAsync(KindDescriptor kind, JsonObject read, JsonNode? status, CancellationToken ct);

    /// <summary>Creates the object; false when one of that name already exists.</summary>
    Task<bool> CreateAsync(string ns, object child, CancellationToken ct);

    /// <summary>Replaces an existing object (guarded by the resourceVersion it carries); false when it is gone.</summary>
    Task<bool> ReplaceAsync(string ns, object child, CancellationToken ct);

    /// <summary>Deletes the child (Jobs with background propagation); false when it was already gone.</summary>
    Task<bool> DeleteAsync(string ns, DeleteChild child, CancellationToken ct);

    /// <summary>Merge-patches an existing child (e.g. a Job's <c>spec.suspend</c>).</summary>
    Task MergePatchAsync(string ns, string apiVersion, string kind, string name, JsonObject patch, CancellationToken ct);

    /// <summary>Records an Event on one of our resources.</summary>
    Task RecordEventAsync(KindDescriptor kind, ObjectMeta involved, PlannedEvent planned, CancellationToken ct);
}

/// <summary>The typed reads and writes, on top of the raw ones every <see cref="IClusterApi"/> provides.</summary>
public static class ClusterApiExtensions
{
    public static async Task<Snapshot<T>?> GetAsync<T>(this IClusterApi cluster, string ns, string name, CancellationToken ct) where T : class, ICustomResource =>
        await cluster.GetAsync(ResourceKinds.Of<T>(), ns, name, ct).ConfigureAwait(false) is { } raw ? Snapshots.Read<T>(raw) : null;

    public static Task ReplaceStatusAsync<T, TStatus>(this IClusterApi cluster, Snapshot<T> snapshot, TStatus status, CancellationToken ct)
        where T : class, ICustomResource<TStatus>
        where TStatus : ResourceStatus =>
        cluster.ReplaceStatusAsync(ResourceKinds.Of<T>(), snapshot.Raw, JsonSerializer.SerializeToNode(status, ApiJson.Options), ct);
}

/// <summary>Reads raw resources into our types without failing on a spec the types cannot hold.</summary>
public static class Snapshots
{
    public static Snapshot<T> Read<T>(JsonObject raw) where T : class, ICustomResource
    {
        var (resource, error) = Read(typeof(T), raw);
        return new Snapshot<T>((T)resource, raw, error);
    }

    /// <summary>The resource of <paramref name="type"/>; on a field of the wrong type, its metadata and status alone and that field.</summary>
    public static (object Resource, FieldError? Error) Read(Type type, JsonObject raw)
    {
        try
        {
            return (raw.Deserialize(type, ApiJson.Options) ?? throw new JsonException($"empty {type.Name}"), null);
        }
        catch (JsonException e)
        {
            // A server that does not check the schema (or an old object) can hold a spec we cannot type:
            // read what identifies it, and report the field instead of failing every reconcile.
            var path = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : "spec";
            var reason = e.Message.Split(". Path:", 2)[0].TrimEnd('.');
            return (Identity(type, raw), new FieldError(path, $"has the wrong type: {reason}"));
        }
    }

    private static object Identity(Type type, JsonObject raw)
    {
        var minimal = new JsonObject { ["metadata"] = raw["metadata"]?.DeepClone() };
        try
        {
            minimal["status"] = raw["status"]?.DeepClone();
            return minimal.Deserialize(type, ApiJson.Options)!;
        }
        catch (JsonException)
        {
            minimal.Remove("status"); // a status we cannot read either: the planner starts from none
            return minimal.Deserialize(type, ApiJson.Options)!;
        }
    }
}
