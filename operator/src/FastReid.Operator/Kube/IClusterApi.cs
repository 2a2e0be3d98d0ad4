using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s;
using k8s.Models;

namespace FastReid.Operator.Kube;

/// <summary>
/// An experiment as read from the API server: typed for the planner, raw for a faithful status write.
/// <see cref="ReadError"/> names the field that did not fit the type (then only metadata and status are read).
/// </summary>
public sealed record ExperimentSnapshot(ReidExperiment Experiment, JsonObject Raw, FieldError? ReadError = null);

/// <summary>An ExportJob as read from the API server; as <see cref="ExperimentSnapshot"/>.</summary>
public sealed record ExportSnapshot(ExportJob Job, JsonObject Raw, FieldError? ReadError = null);

/// <summary>Thrown when a write lost an optimistic-concurrency race (HTTP 409 on update): re-read and try again.</summary>
public sealed class ConflictException(string message) : Exception(message);

/// <summary>The API calls the controllers make; "already exists" and "not found" are not errors.</summary>
public interface IClusterApi
{
    Task<ExperimentSnapshot?> GetExperimentAsync(string ns, string name, CancellationToken ct);

    /// <summary>Creates the object; false when one of that name already exists.</summary>
    Task<bool> CreateAsync(string ns, IKubernetesObject<V1ObjectMeta> child, CancellationToken ct);

    /// <summary>Deletes the child (Jobs with background propagation); false when it was already gone.</summary>
    Task<bool> DeleteAsync(string ns, DeleteChild child, CancellationToken ct);

    Task SetJobSuspendAsync(string ns, string name, bool suspend, CancellationToken ct);

    /// <summary>Replaces the status through the status subresource, guarded by the read resourceVersion.</summary>
    Task ReplaceStatusAsync(ExperimentSnapshot snapshot, ReidExperimentStatus status, CancellationToken ct);

    Task<ExportSnapshot?> GetExportJobAsync(string ns, string name, CancellationToken ct);

    /// <summary>Replaces an ExportJob's status through the status subresource, guarded by the read resourceVersion.</summary>
    Task ReplaceStatusAsync(ExportSnapshot snapshot, ExportJobStatus status, CancellationToken ct);

    /// <summary>Records an Event on one of our resources (<paramref name="kind"/> ReidExperiment, ExportJob, ...).</summary>
    Task RecordEventAsync(string kind, ObjectMeta involved, PlannedEvent planned, CancellationToken ct);
}
