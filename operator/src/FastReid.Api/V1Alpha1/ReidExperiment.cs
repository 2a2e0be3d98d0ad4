using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;

namespace FastReid.Api.V1Alpha1;

/// <summary>One FastReID training run (train, then evaluate on the test set) on one or more nodes.</summary>
[Description("One FastReID training run (train, then evaluate on the test set) on one or more nodes.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("mAP", "number", ".status.metrics.mAP")]
[PrinterColumn("Rank-1", "number", ".status.metrics.rank1")]
[PrinterColumn("Nodes", "integer", ".spec.resources.nodes", Priority = 1)]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
[CelRule("size(self.metadata.name) <= 63", "metadata.name must be at most 63 characters: it names the Job, Service and pod host names")]
public sealed class ReidExperiment : CustomResource<ReidExperimentSpec, ReidExperimentStatus>
{
    public override string Kind { get; set; } = ResourceKinds.ReidExperiment.Kind;
}

public sealed class ReidExperimentSpec
{
    [Required, Description("The dataset to train and evaluate on.")]
    public DatasetSpec Dataset { get; set; } = new();
    [PreserveUnknownFields, Description("FastReID config tree with FastReID key names (MODEL, SOLVER, INPUT, DATALOADER, TEST, ...).")]
    public JsonObject? Config { get; set; }
    [Description("Pods, GPUs, CPU and memory.")]
    public ResourcesSpec Resources { get; set; } = new();
    [Description("Where artefacts are written; the operator's default storage (plus /namespace/name) when absent.")]
    public OutputSpec? Output { get; set; }
    [Description("Retries, deadline, clean-up, suspension.")]
    public RunPolicy RunPolicy { get; set; } = new();
}

public sealed class ReidExperimentStatus : ResourceStatus, IRunStatus
{
    [Description("Metrics of the finished run.")]
    public ReidMetrics? Metrics { get; set; }
    [Description("Artefacts of the finished run.")]
    public ArtefactsStatus? Artefacts { get; set; }
    [Description("The Job of the current run; children of a run share its name.")]
    public string? JobName { get; set; }
}
