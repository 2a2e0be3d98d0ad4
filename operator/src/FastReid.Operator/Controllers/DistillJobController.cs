using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Hosting;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using FastReid.Pipeline.Distill;

namespace FastReid.Operator.Controllers;

/// <summary>
/// DistillJobs: <see cref="DistillJobPlanner"/> over the student ReidExperiment it owns (a changed student wakes
/// it as any child does), given its teachers and whatever holds the student's name (read as references), and
/// looked at again whenever one of those ReidExperiments changes.
/// </summary>
public static class DistillJobController
{
    public static readonly ControllerDefinition<DistillJob, DistillJobStatus> Definition = new(
        ResourceKinds.DistillJob,
        (job, observed, context) => DistillJobPlanner.Plan(job, observed, context.Referenced<ReidExperiment>, context.Options),
        DistillJobPlanner.Reject)
    {
        References = job => DistillJobPlanner.References(job).Select(name => new ResourceRef(ResourceKinds.ReidExperiment, name)),
        Watches = [new RelatedWatch(ResourceKinds.ReidExperiment, (experiment, jobs) => JobsReading(ChildIndex.KeyOf(experiment), jobs))],
    };

    /// <summary>The DistillJobs among <paramref name="jobs"/> that read the given experiment: as a teacher, or by the student's name.</summary>
    public static IEnumerable<ObjectKey> JobsReading(ObjectKey experiment, IEnumerable<JsonObject> jobs) =>
        jobs.Select(j => (Key: ChildIndex.KeyOf(j), Teachers: j["spec"]?["teachers"] as JsonArray))
            .Where(j => j.Key.Namespace == experiment.Namespace
                && (DistillNames.StudentName(j.Key.Name) == experiment.Name
                    || j.Teachers?.Any(t => t?["experimentRef"]?["name"] is JsonValue v && v.TryGetValue<string>(out var name) && name == experiment.Name) == true))
            .Select(j => j.Key);
}
