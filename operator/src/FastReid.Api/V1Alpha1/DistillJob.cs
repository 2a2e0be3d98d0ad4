using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace FastReid.Api.V1Alpha1;

/// <summary>Knowledge distillation: waits for its teachers, then trains a student with FastReID's Distiller.</summary>
[Description("Knowledge distillation: waits for its teachers, then trains a student with FastReID's Distiller.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("Teacher-mAP", "number", ".status.teacherMAP", Description = "mAP of the best teacher (the highest mAP among the teachers resolved for this generation)")]
[PrinterColumn("Student-mAP", "number", ".status.metrics.mAP", Description = "mAP of the distilled student")]
[PrinterColumn("Gain", "number", ".status.gain", Description = "student mAP minus the best teacher's mAP, in mAP points (x100); negative while the student trails its teacher")]
[PrinterColumn("Student", "string", ".status.studentExperiment", Priority = 1)]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
[CelRule("size(self.metadata.name) <= 63", "metadata.name must be at most 63 characters: it is the value of the owner label (fastreid.io/<kind>) on its children")]
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
    [Description("URI of model weights (model.pt): s3://... or pvc://CLAIM/path (mounted read-only).")]
    public string? ModelUri { get; set; }
    [Description("URI of the config.yaml the model was trained with: s3://... or pvc://CLAIM/path (mounted read-only).")]
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

/// <summary>A teacher as resolved (and pinned) for one generation of a DistillJob: what the student reads.</summary>
public sealed class TeacherStatus
{
    [Description("The teacher ReidExperiment; absent for a teacher given by modelUri.")]
    public string? Experiment { get; set; }
    [Description("URI of the teacher's weights (an entry of the student's KD.MODEL_WEIGHTS).")]
    public string? Model { get; set; }
    [Description("URI of the teacher's config.yaml (an entry of the student's KD.MODEL_CONFIG).")]
    public string? Config { get; set; }
    [Description("sha256 of the weights, checked by the student pod before training; empty when unknown (a teacher given by URI).")]
    public string? ModelSha256 { get; set; }
    [Description("sha256 of config.yaml, checked likewise; empty when unknown.")]
    public string? ConfigSha256 { get; set; }
    [Description("The teacher's test-set metrics when it was resolved.")]
    public ReidMetrics? Metrics { get; set; }
}

public sealed class DistillJobStatus : ResourceStatus, IRunStatus
{
    [Description("This generation's distillation: the DistillJob's name and a digest of its uid and spec. A spec change names a new one, re-resolves the teachers and retrains the student.")]
    public string? Run { get; set; }
    [Description("The child ReidExperiment that trains the student.")]
    public string? StudentExperiment { get; set; }
    [Description("The teachers the student learns from, resolved once per generation: a teacher retrained later does not retrain the student until the DistillJob's spec changes.")]
    public List<TeacherStatus>? Teachers { get; set; }
    [JsonPropertyName("teacherMAP"), Description("The best teacher's mAP.")]
    public double? TeacherMAP { get; set; }
    [Description("Metrics of the student.")]
    public ReidMetrics? Metrics { get; set; }
    [Description("Student mAP minus the best teacher's mAP, in mAP points (x100).")]
    public double? Gain { get; set; }
    [Description("Artefacts of the student.")]
    public ArtefactsStatus? Artefacts { get; set; }

    /// <summary>The run a status belongs to is this generation's distillation (a DistillJob runs no Job of its own).</summary>
    string? IRunStatus.JobName { get => Run; set => Run = value; }
}
