using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;

namespace FastReid.Pipeline.Distill;

/// <summary>
/// Deterministic names and labels of a DistillJob's one child: the student ReidExperiment is named after the
/// DistillJob (<c>&lt;name&gt;-student</c>, by <see cref="ExperimentNames.ChildName"/>'s rules) and keeps that name
/// across generations, since a spec change updates it in place; the run is named after the spec, so a spec
/// change is a new run.
/// </summary>
public static class DistillNames
{
    public const string StudentSuffix = "student";

    public static string StudentName(string? distillJobName) => ExperimentNames.ChildName(distillJobName, StudentSuffix);

    public static string StudentName(DistillJob job) => StudentName(job.Metadata.Name);

    /// <summary>This generation's distillation (status.run): the name plus a digest of uid and spec.</summary>
    public static string Run(DistillJob job) =>
        ExperimentNames.ChildName(job.Metadata.Name, ExperimentNames.SpecDigest(job.Metadata.Uid, job.Spec));

    /// <summary>Labels on the student ReidExperiment.</summary>
    public static Dictionary<string, string> Labels(DistillJob job) => new()
    {
        [ExperimentNames.ManagedByLabel] = ExperimentNames.ManagedBy,
        [ResourceKinds.DistillJob.OwnerLabel] = job.Metadata.Name ?? "",
    };
}
