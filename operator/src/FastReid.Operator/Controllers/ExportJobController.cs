using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Hosting;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using FastReid.Pipeline.Exports;

namespace FastReid.Operator.Controllers;

/// <summary>
/// ExportJobs: <see cref="ExportJobPlanner"/> over the export's Job and pod, given its source ReidExperiment
/// (read as a reference), and looked at again whenever that experiment changes.
/// </summary>
public static class ExportJobController
{
    public static readonly ControllerDefinition<ExportJob, ExportJobStatus> Definition = new(
        ResourceKinds.ExportJob,
        (export, observed, context) => ExportJobPlanner.Plan(export, observed, SourceName(export) is { } name ? context.Referenced<ReidExperiment>(name) : null, context.Options),
        ExportJobPlanner.Reject)
    {
        References = export => SourceName(export) is { } name ? [new ResourceRef(ResourceKinds.ReidExperiment, name)] : [],
        Watches = [new RelatedWatch(ResourceKinds.ReidExperiment, (experiment, exports) => ExportsOf(ChildIndex.KeyOf(experiment), exports))],
    };

    private static string? SourceName(ExportJob export) => export.Spec.Source.ExperimentRef is { Name: { Length: > 0 } name } ? name : null;

    /// <summary>The ExportJobs among <paramref name="exports"/> that read the given experiment.</summary>
    public static IEnumerable<ObjectKey> ExportsOf(ObjectKey experiment, IEnumerable<JsonObject> exports) =>
        exports.Select(e => (Key: ChildIndex.KeyOf(e), Ref: e["spec"]?["source"]?["experimentRef"]?["name"]))
            .Where(e => e.Key.Namespace == experiment.Namespace && e.Ref is JsonValue v && v.TryGetValue<string>(out var name) && name == experiment.Name)
            .Select(e => e.Key);
}
