using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace FastReid.Api.V1Alpha1;

/// <summary>Exports a trained model (ONNX) in one trainer pod and checks it against the original.</summary>
[Description("Exports a trained model (ONNX) in one trainer pod and checks it against the original.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("Format", "string", ".spec.format")]
[PrinterColumn("Source", "string", ".spec.source.experimentRef.name")]
[PrinterColumn("MaxRelError", "number", ".status.verification.maxRelativeError")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
[CelRule("size(self.metadata.name) <= 63", "metadata.name must be at most 63 characters: it is the value of the owner label (fastreid.io/<kind>) on its children")]
public sealed class ExportJob : CustomResource<ExportJobSpec, ExportJobStatus>
{
    public override string Kind { get; set; } = ResourceKinds.ExportJob.Kind;
}

/// <summary>The export formats; only <see cref="Onnx"/> has a path today (TensorRT needs a GPU build).</summary>
public static class ExportFormats
{
    public const string Onnx = "onnx";
    public const string TensorRt = "tensorrt";
}

public sealed class OnnxSpec
{
    [Range(17, 21), Description("ONNX opset (the trainer's exporter writes 17 or newer).")]
    public int Opset { get; set; } = 17;
    [Description("Export with a dynamic batch dimension; false fixes it to batchSize.")]
    public bool DynamicBatch { get; set; } = true;
    [Range(1, 1024), Description("The static batch size, used when dynamicBatch is false.")]
    public int BatchSize { get; set; } = 1;
}

public sealed class VerifySpec
{
    [Range(0.0, 1.0, MinimumIsExclusive = true), Description(
        "Largest allowed relative error between onnxruntime and the original model: per image max|onnx - torch| / max|torch|, worst image.")]
    public double Tolerance { get; set; } = 1.0e-4;
}

/// <summary>CPU, memory and image of the export pod (it never gets GPUs for ONNX).</summary>
public sealed class ExportResourcesSpec
{
    [IntOrString, JsonConverter(typeof(IntOrStringConverter)), Description("CPU request and limit, a Kubernetes quantity (2, 500m).")]
    public string? Cpu { get; set; }
    [IntOrString, JsonConverter(typeof(IntOrStringConverter)), Description("Memory request and limit, a Kubernetes quantity (4Gi).")]
    public string? Memory { get; set; }
    [Description("Trainer image; the operator's default when empty.")]
    [MaxLength(Validation.MaxImageLength), RegularExpression(Validation.Image, ErrorMessage = Validation.ImageRule)]
    public string? Image { get; set; }
}

public sealed class ExportJobSpec
{
    [Required, Description("The model to export: a ReidExperiment in this namespace, or modelUri with configUri.")]
    public ModelSource Source { get; set; } = new();
    [AllowedValues(ExportFormats.Onnx, ExportFormats.TensorRt), Description("Export format. tensorrt is accepted but not supported yet (condition Unsupported).")]
    public string Format { get; set; } = ExportFormats.Onnx;
    [Description("ONNX options.")]
    public OnnxSpec Onnx { get; set; } = new();
    [Description("Numerical check of the exported model with onnxruntime.")]
    public VerifySpec Verify { get; set; } = new();
    [Description("Where model.onnx and verify.json are written; the operator's default storage (plus /namespace/name) when absent.")]
    public OutputSpec? Output { get; set; }
    [Description("CPU, memory and image of the export pod.")]
    public ExportResourcesSpec Resources { get; set; } = new();
    [Description("Retries (backoffLimit, 3 by default as for experiments), deadline, clean-up; suspend is ignored by exports.")]
    public RunPolicy? RunPolicy { get; set; }
}

/// <summary>The model and config the export read, resolved from the source.</summary>
public sealed class ExportSourceStatus
{
    [Description("URI of the model weights exported.")] public string? Model { get; set; }
    [Description("URI of the config.yaml the model was trained with.")] public string? Config { get; set; }
}

/// <summary>The trainer's check of model.onnx against the original model, through onnxruntime.</summary>
public sealed class VerificationStatus
{
    [Description("True when the worst relative error is within the tolerance.")] public bool? Passed { get; set; }
    [Description("The tolerance checked against.")] public double? Tolerance { get; set; }
    [Description("Worst per-image max|onnx - torch| / max|torch|.")] public double? MaxRelativeError { get; set; }
    [Description("Worst max|onnx - torch|.")] public double? MaxAbsError { get; set; }
    [Description("ONNX opset of model.onnx.")] public int? Opset { get; set; }
    [Description("The batch dimension: dynamic or a number.")] public string? Batch { get; set; }
    [Description("onnxruntime version that ran the check.")] public string? Onnxruntime { get; set; }
}

public sealed class ExportJobStatus : ResourceStatus, IRunStatus
{
    [Description("The Job of the current export.")]
    public string? JobName { get; set; }
    [Description("The model and config exported.")]
    public ExportSourceStatus? Source { get; set; }
    [Description("artefacts.export is model.onnx; sha256 by file name.")]
    public ArtefactsStatus? Artefacts { get; set; }
    [Description("Verification figures reported by the trainer.")]
    public VerificationStatus? Verification { get; set; }
}
