using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;

namespace FastReid.Pipeline.Exports;

/// <summary>
/// Deterministic names and labels of an export's Job: the ExportJob's name plus a digest of its uid and
/// spec, so a restarted operator finds the same Job and a spec change (a new generation) names a new one.
/// </summary>
public static class ExportNames
{
    public static string JobName(ExportJob job) =>
        ExperimentNames.ChildName(job.Metadata.Name, ExperimentNames.SpecDigest(job.Metadata.Uid, job.Spec));

    /// <summary>Labels on the Job and its pod.</summary>
    public static Dictionary<string, string> Labels(ExportJob job, string jobName) => new()
    {
        [ExperimentNames.ManagedByLabel] = ExperimentNames.ManagedBy,
        [ResourceKinds.ExportJob.OwnerLabel] = job.Metadata.Name ?? "",
        [ExperimentNames.RunLabel] = jobName,
    };
}
