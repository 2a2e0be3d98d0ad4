using System.Globalization;
using FastReid.Api.V1Alpha1;
using FastReid.Contracts;

namespace FastReid.Pipeline.Exports;

/// <summary>
/// What an ExportJob's status takes from the export pod's <see cref="RunResult"/>: the URI and sha256 of
/// model.onnx and the onnxruntime figures.
/// </summary>
public sealed record ExportResult(ArtefactsStatus Artefacts, VerificationStatus Verification)
{
    public const string ModelFile = "model.onnx";

    /// <summary>Parses a termination message; on failure returns null and says why.</summary>
    public static ExportResult? TryParse(string? message, out string? error)
    {
        if (RunResult.TryParse(message, "the export pod", out error) is not { } result) return null;
        if (result.Verify is not { } v)
        {
            error = $"the export result has no verify figures: {RunResult.Truncate(message ?? "", 120)}";
            return null;
        }
        var artefacts = new ArtefactsStatus { Export = ClaimMounts.UriOf(result.Artefacts.Export), Sha256 = TrainerResult.Digests(result) };
        var verification = new VerificationStatus
        {
            Passed = v.Passed, Tolerance = v.Tolerance, MaxRelativeError = v.MaxRelativeError, MaxAbsError = v.MaxAbsError,
            Opset = v.Opset, Batch = v.Batch, Onnxruntime = v.Onnxruntime,
        };
        return new ExportResult(artefacts, verification);
    }

    /// <summary>"model.onnx sha256 ab12cd34ef56…, max relative error 1.2e-06 ≤ 1e-04 (onnxruntime 1.31.1)".</summary>
    public string Summary()
    {
        var parts = new List<string>();
        if (Artefacts.Sha256?.GetValueOrDefault(ModelFile) is { } sha)
            parts.Add($"{ModelFile} sha256 {(sha.Length > 12 ? sha[..12] + "…" : sha)}");
        else if (Artefacts.Export is { } uri)
            parts.Add($"exported {uri}");
        if (Verification.MaxRelativeError is { } error)
        {
            var bound = Verification.Tolerance is { } tolerance ? $" ≤ {Figure(tolerance)}" : "";
            var runtime = Verification.Onnxruntime is { } version ? $" (onnxruntime {version})" : "";
            parts.Add($"max relative error {Figure(error)}{bound}{runtime}");
        }
        return string.Join(", ", parts);
    }

    public static string Figure(double value) => value.ToString("0.##e+00", CultureInfo.InvariantCulture);
}
