using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace FastReid.Api.V1Alpha1;

/// <summary>One FastReID training run (train, then evaluate on the test set) on one or more nodes.</summary>
[Description("One FastReID training run (train, then evaluate on the test set) on one or more nodes.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("mAP", "number", ".status.metrics.mAP")]
[PrinterColumn("Rank-1", "number", ".status.metrics.rank1")]
[PrinterColumn("Progress", "string", ".status.progress.summary")]
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
    [Description("Live progress of the running training, read from rank 0's metrics endpoint; kept after the run ends.")]
    public TrainingProgress? Progress { get; set; }
}

/// <summary>Where a running training is, as its rank-0 trainer's <c>fastreid_train_*</c> gauges said at <see cref="ObservedAt"/>.</summary>
public sealed class TrainingProgress
{
    [Description("Percent and epoch for the printer column, e.g. \"37% e3/10\".")]
    public string? Summary { get; set; }
    [Description("Current epoch, 1-based.")] public int? Epoch { get; set; }
    [Description("Epochs the run trains (SOLVER.MAX_EPOCH).")] public int? MaxEpoch { get; set; }
    [Description("Iterations done (resumed ones included).")] public long? Iteration { get; set; }
    [Description("Iterations of the whole run.")] public long? MaxIteration { get; set; }
    [Description("Iterations done, in percent of the run's (0-100).")] public double? Percent { get; set; }
    [Description("Estimated seconds of training left.")] public long? EtaSeconds { get; set; }
    [Description("Training throughput, averaged over the run.")] public double? ImagesPerSecond { get; set; }
    [Description("Total loss of the last iteration.")] public double? Loss { get; set; }
    [Description("Base learning rate of the last iteration.")] public double? LearningRate { get; set; }
    [Description("The last evaluation during training (validation split or test set).")] public ProgressEvaluation? LastEvaluation { get; set; }
    [Description("When the operator read these figures.")] public DateTimeOffset? ObservedAt { get; set; }
}

/// <summary>An evaluation during training: after which epoch, and its figures.</summary>
public sealed class ProgressEvaluation
{
    [Description("Epoch (1-based) after which it ran.")] public int? Epoch { get; set; }
    [JsonPropertyName("mAP"), Description("Mean average precision, a fraction.")] public double? MAP { get; set; }
    [Description("CMC rank-1, a fraction.")] public double? Rank1 { get; set; }
}
