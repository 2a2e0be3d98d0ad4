using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace FastReid.Api.V1Alpha1;

/// <summary>Exports a trained model (ONNX) in one trainer pod and checks it against the original.</summary>
[KubernetesEntity("ExportJob", "exportjobs", ShortNames = ["export"])]
[Description("Exports a trained model (ONNX) in one trainer pod and checks it against the original.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("Format", "string", ".spec.format")]
[PrinterColumn("MaxAbsDiff", "number", ".status.maxAbsDiff")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
public sealed class ExportJob : CustomResource<ExportJobSpec, ExportJobStatus>
{
    public override string Kind { get; set; } = "ExportJob";
}

public sealed class OnnxSpec
{
    [Range(7, 21), Description("ONNX opset.")]
    public int Opset { get; set; } = 17;
    [Description("Export with a dynamic batch dimension.")]
    public bool DynamicBatch { get; set; } = true;
}

public sealed class VerifySpec
{
    [Range(0.0, 1.0, MinimumIsExclusive = true), Description("Largest allowed absolute difference between exported and original features.")]
    public double Tolerance { get; set; } = 1.0e-4;
}

public sealed class ExportJobSpec
{
    [Required, Description("The model to export.")]
    public ModelSource Source { get; set; } = new();
    [AllowedValues("onnx"), Description("Export format.")]
    public string Format { get; set; } = "onnx";
    [Description("ONNX options.")]
    public OnnxSpec Onnx { get; set; } = new();
    [Description("Numerical check of the exported model.")]
    public VerifySpec Verify { get; set; } = new();
    [Required, Description("Where the exported model is written.")]
    public OutputSpec Output { get; set; } = new();
    [Description("Trainer image; the operator's default when empty.")]
    public string? Image { get; set; }
}

public sealed class ExportJobStatus : ResourceStatus
{
    [Description("Artefacts of the export.")]
    public ArtefactsStatus? Artefacts { get; set; }
    [Description("Largest absolute difference measured by the verification.")]
    public double? MaxAbsDiff { get; set; }
}
