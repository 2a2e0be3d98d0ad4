using System.Text.Json.Serialization;

namespace FastReid.Api.V1Alpha1;

/// <summary>
/// The part of Kubernetes <c>metadata</c> the planners read. Kept here (not k8s.Models.V1ObjectMeta) so this
/// assembly has no Kubernetes client dependency; the operator copies the fields it needs.
/// </summary>
public sealed class ObjectMeta
{
    public string? Name { get; set; }
    [JsonPropertyName("namespace")] public string? Namespace { get; set; }
    public string? Uid { get; set; }
    public long? Generation { get; set; }
    public string? ResourceVersion { get; set; }
    public DateTimeOffset? CreationTimestamp { get; set; }
    public DateTimeOffset? DeletionTimestamp { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
    public List<string>? Finalizers { get; set; }
    public List<OwnerReference>? OwnerReferences { get; set; }
}

public sealed class OwnerReference
{
    public string ApiVersion { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Name { get; set; } = "";
    public string Uid { get; set; } = "";
    public bool? Controller { get; set; }
    public bool? BlockOwnerDeletion { get; set; }
}

/// <summary>Common shape of the four kinds: apiVersion, kind, metadata, spec, status.</summary>
public abstract class CustomResource<TSpec, TStatus> : ICustomResource<TStatus>
    where TSpec : new()
    where TStatus : ResourceStatus, new()
{
    public string ApiVersion { get; set; } = ApiGroup.ApiVersion;
    public abstract string Kind { get; set; }
    public ObjectMeta Metadata { get; set; } = new();
    [System.ComponentModel.DataAnnotations.Required]
    public TSpec Spec { get; set; } = new();
    public TStatus? Status { get; set; }
}
