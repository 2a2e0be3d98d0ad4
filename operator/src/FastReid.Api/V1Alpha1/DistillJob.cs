using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace FastReid.Api.V1Alpha1;

/// <summary>Knowledge distillation: waits for its teachers, then trains a student with FastReID's Distiller.</summary>
[Description("Knowledge distillation: waits for its teachers, then trains a student with FastReID's Distiller.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("mAP", "number", ".status.metrics.mAP")]
[PrinterColumn("Student", "string", ".status.studentExperiment", Priority = 1)]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
public sealed class DistillJob : CustomResource<DistillJobSpec, DistillJobStatus>
{
    public override string Kind { get; set; } = ResourceKinds.DistillJob.Kind;
}

/// <summary>A teacher: a ReidExperiment in this namespace, or a model and config by URI.</summary>
[CelRule("has(self.experimentRef) != has(self.modelUri)", "give either experimentRef or modelUri (with configUri)")]
[CelRule("!has(self.modelUri) || has(self.configUri)", "modelUri needs configUri")]
[CelRule("!has(self.configUri) || has(self.modelUri)", "configUri is only used with modelUri")]
public sealed class ModelSource
{
    [Description("A ReidExperiment whose trained model is used.")]
    public LocalObjectReference? ExperimentRef { get; set; }
    [Description("URI of model weights (model.pt).")]
    public string? ModelUri { get; set; }
    [Description("URI of the config.yaml the model was trained with.")]
    public string? ConfigUri { get; set; }
}

public sealed class OverhaulSpec
{
    [Description("Adds the feature-overhaul distillation loss.")]
    public bool Enabled { get; set; }
}

public sealed class KdSpec
{
    [Range(0.0, 1000.0, MinimumIsExclusive = true), Description("Softmax temperature of the KD loss.")]
    public double Temperature { get; set; } = 16;
    [Range(0.0, 1000.0), Description("Weight of the KD loss.")]
    public double Weight { get; set; } = 1.0;
    [Description("Overhaul-of-feature-distillation loss.")]
    public OverhaulSpec Overhaul { get; set; } = new();
}

public sealed class DistillJobSpec
{
    [Required, MinLength(1), MaxLength(8), Description("One or more teachers.")]
    public List<ModelSource> Teachers { get; set; } = [];
    [Required, Description("The student's experiment spec; the Distiller meta-architecture is set by the operator.")]
    public ReidExperimentSpec Student { get; set; } = new();
    [Description("Distillation loss settings.")]
    public KdSpec Kd { get; set; } = new();
}

public sealed class DistillJobStatus : ResourceStatus
{
    [Description("The child ReidExperiment that trains the student.")]
    public string? StudentExperiment { get; set; }
    [Description("Metrics of the student.")]
    public ReidMetrics? Metrics { get; set; }
    [Description("Artefacts of the student.")]
    public ArtefactsStatus? Artefacts { get; set; }
}
