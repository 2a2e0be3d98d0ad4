using FastReid.Api.V1Alpha1;
using k8s;
using k8s.Models;

namespace FastReid.Pipeline;

/// <summary>What should change, the status to write (when it differs), the events to record, and when to look again.</summary>
public sealed record Plan<TStatus>(
    IReadOnlyList<ChildAction> Actions,
    TStatus Status,
    IReadOnlyList<PlannedEvent> Events,
    TimeSpan? RequeueAfter) where TStatus : ResourceStatus;

/// <summary>One change to make to the cluster. Appliers treat "already exists" and "not found" as done.</summary>
public abstract record ChildAction;

/// <summary>
/// Create the object when it does not exist; an existing one is left as it is (drift is <see cref="UpdateChild"/>).
/// The object is a Kubernetes object (<see cref="IKubernetesObject{V1ObjectMeta}"/>) or one of our resources
/// (<see cref="ICustomResource"/>), owned by the planned resource.
/// </summary>
public sealed record CreateChild(object Object) : ChildAction
{
    public string Kind => ChildObjects.Kind(Object);
    public string Name => ChildObjects.Name(Object);
    public override string ToString() => $"create {Kind}/{Name}";
}

/// <summary>
/// Put an existing child's mutable fields back to the plan (a ConfigMap's data). The object carries the
/// resourceVersion that was observed, so a write racing a newer change loses and the next look plans again.
/// Never planned for fields Kubernetes makes immutable (a Job's template).
/// </summary>
public sealed record UpdateChild(object Object) : ChildAction
{
    public string Kind => ChildObjects.Kind(Object);
    public string Name => ChildObjects.Name(Object);
    public override string ToString() => $"update {Kind}/{Name}";
}

/// <summary>Delete a child; Jobs with background propagation so their pods go too.</summary>
public sealed record DeleteChild(string ApiVersion, string Kind, string Name) : ChildAction
{
    public override string ToString() => $"delete {Kind}/{Name}";
}

/// <summary>Set <c>spec.suspend</c> of an existing Job (the one Job field a run changes in place).</summary>
public sealed record SetJobSuspend(string Name, bool Suspend) : ChildAction
{
    public override string ToString() => $"{(Suspend ? "suspend" : "resume")} Job/{Name}";
}

/// <summary>A Kubernetes Event to record on the planned resource.</summary>
public sealed record PlannedEvent(string Type, string Reason, string Message)
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
}

/// <summary>Kind and name of a child, whichever of the two object families it belongs to.</summary>
public static class ChildObjects
{
    public static string Kind(object child) => child switch
    {
        IKubernetesObject<V1ObjectMeta> k => k.Kind,
        ICustomResource c => c.Kind,
        _ => throw new ArgumentException($"{child.GetType().Name} is not a Kubernetes object", nameof(child)),
    };

    public static string Name(object child) => child switch
    {
        IKubernetesObject<V1ObjectMeta> k => k.Metadata?.Name ?? "",
        ICustomResource c => c.Metadata.Name ?? "",
        _ => throw new ArgumentException($"{child.GetType().Name} is not a Kubernetes object", nameof(child)),
    };

    /// <summary>
    /// Create-or-update, level-triggered (controller-runtime's CreateOrUpdate): create <paramref name="desired"/>
    /// when no child of its name is observed, put its mutable fields back when <paramref name="sameMutable"/> says
    /// the observed one drifted, nothing otherwise.
    /// </summary>
    public static ChildAction? Ensure<T>(IReadOnlyList<T> observed, T desired, Func<T, T, bool>? sameMutable = null)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var existing = observed.FirstOrDefault(o => o.Metadata?.Name == desired.Metadata.Name);
        if (existing is null) return new CreateChild(desired);
        if (sameMutable is null || sameMutable(existing, desired)) return null;
        desired.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
        return new UpdateChild(desired);
    }

    /// <summary>The controlling owner reference a Kubernetes child carries, so the garbage collector removes it with its owner.</summary>
    public static V1OwnerReference OwnerReference(ICustomResource owner) => new()
    {
        ApiVersion = ApiGroup.ApiVersion,
        Kind = owner.Kind,
        Name = owner.Metadata.Name,
        Uid = owner.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    /// <summary>The same reference for a child that is one of our resources (a DistillJob's or TuneSweep's ReidExperiment).</summary>
    public static OwnerReference CustomOwnerReference(ICustomResource owner) => new()
    {
        ApiVersion = ApiGroup.ApiVersion,
        Kind = owner.Kind,
        Name = owner.Metadata.Name ?? "",
        Uid = owner.Metadata.Uid ?? "",
        Controller = true,
        BlockOwnerDeletion = true,
    };
}
