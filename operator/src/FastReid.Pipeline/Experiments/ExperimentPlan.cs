using FastReid.Api.V1Alpha1;
using k8s;
using k8s.Models;

namespace FastReid.Pipeline.Experiments;

/// <summary>The children of one experiment as the operator found them (owned by it, in its namespace), and the time.</summary>
public sealed record ObservedChildren
{
    public IReadOnlyList<V1ConfigMap> ConfigMaps { get; init; } = [];
    public IReadOnlyList<V1Service> Services { get; init; } = [];
    public IReadOnlyList<V1Job> Jobs { get; init; } = [];
    /// <summary>Pods of the experiment's Jobs (used for the rank-0 termination message and failure details).</summary>
    public IReadOnlyList<V1Pod> Pods { get; init; } = [];
    public DateTimeOffset Now { get; init; }

    public static ObservedChildren None(DateTimeOffset now) => new() { Now = now };
}

/// <summary>One change to make to the cluster. Appliers treat "already exists" and "not found" as done.</summary>
public abstract record ChildAction;

/// <summary>Create the object when it does not exist; existing children are never overwritten.</summary>
public sealed record CreateChild(IKubernetesObject<V1ObjectMeta> Object) : ChildAction
{
    public override string ToString() => $"create {Object.Kind}/{Object.Metadata.Name}";
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

/// <summary>A Kubernetes Event to record on the experiment.</summary>
public sealed record PlannedEvent(string Type, string Reason, string Message)
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
}

/// <summary>What should change, the status to write (when it differs), and when to look again.</summary>
public sealed record ExperimentPlan(
    IReadOnlyList<ChildAction> Actions,
    ReidExperimentStatus Status,
    IReadOnlyList<PlannedEvent> Events,
    TimeSpan? RequeueAfter);
