namespace FastReid.Api.V1Alpha1;

/// <summary>
/// Everything that names one of our kinds: the CRD's names, the resource path, and the label its children
/// and pods carry with the owner's name. A kind is spelled here and nowhere else.
/// </summary>
public sealed record KindDescriptor(Type Type, string Kind, string Plural, IReadOnlyList<string> ShortNames, string OwnerLabel)
{
    public string Group => ApiGroup.Group;
    public string Version => ApiGroup.Version;
    public string ApiVersion => ApiGroup.ApiVersion;
    public string Singular => Kind.ToLowerInvariant();
    public string ListKind => Kind + "List";
    public IReadOnlyList<string> Categories { get; init; } = ["fastreid"];

    public override string ToString() => Kind;
}

/// <summary>The four kinds of fastreid.io/v1alpha1.</summary>
public static class ResourceKinds
{
    public static readonly KindDescriptor ReidExperiment = new(typeof(ReidExperiment), "ReidExperiment", "reidexperiments", ["rexp"], "fastreid.io/experiment");
    public static readonly KindDescriptor DistillJob = new(typeof(DistillJob), "DistillJob", "distilljobs", ["dj"], "fastreid.io/distilljob");
    public static readonly KindDescriptor TuneSweep = new(typeof(TuneSweep), "TuneSweep", "tunesweeps", ["sweep"], "fastreid.io/sweep");
    public static readonly KindDescriptor ExportJob = new(typeof(ExportJob), "ExportJob", "exportjobs", ["export"], "fastreid.io/export");

    /// <summary>In the order the CRDs are generated.</summary>
    public static readonly IReadOnlyList<KindDescriptor> All = [ReidExperiment, DistillJob, TuneSweep, ExportJob];

    /// <summary>The descriptor of an API type; throws for a type that is not one of our kinds.</summary>
    public static KindDescriptor Of(Type type) =>
        All.FirstOrDefault(k => k.Type == type) ?? throw new ArgumentException($"{type.Name} is not a fastreid.io kind", nameof(type));

    public static KindDescriptor Of<T>() => Of(typeof(T));

    /// <summary>The descriptor of a kind name, or null for a kind that is not ours.</summary>
    public static KindDescriptor? Find(string? apiVersion, string? kind) =>
        apiVersion == ApiGroup.ApiVersion ? All.FirstOrDefault(k => k.Kind == kind) : null;
}

/// <summary>What every one of our resources has, whatever its spec: its kind and metadata.</summary>
public interface ICustomResource
{
    string Kind { get; }
    ObjectMeta Metadata { get; }
}

/// <summary>A resource whose status a controller writes.</summary>
public interface ICustomResource<TStatus> : ICustomResource where TStatus : ResourceStatus
{
    TStatus? Status { get; }
}

/// <summary>
/// The status of a kind that runs one thing at a time (a run): the run's name ties the status to it. For
/// ReidExperiment and ExportJob that is their Job's name; a DistillJob's run is one generation's student.
/// </summary>
public interface IRunStatus
{
    string? JobName { get; set; }
}
