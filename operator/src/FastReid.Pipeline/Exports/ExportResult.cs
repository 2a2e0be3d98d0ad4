using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Exports;

/// <summary>
/// The trainer's export result JSON (≤ 4 KB, from the pod's termination message):
/// <c>{"status":"Succeeded","format":"onnx","artefacts":{"export":uri,"verify":uri},"sha256":{"model.onnx":hex},
/// "verify":{"passed":true,"tolerance":..,"max_relative_error":..,"max_abs_error":..,"batch":"dynamic","opset":17,"onnxruntime":"1.31.1"}}</c>.
/// Missing fields stay null; <c>artefacts.model</c> is read where <c>artefacts.export</c> is absent (the
/// exporter's first result wrote it so).
/// </summary>
public sealed record ExportResult(ArtefactsStatus Artefacts, VerificationStatus Verification)
{
    public const string ModelFile = "model.onnx";

    /// <summary>Parses a termination message; on failure returns null and says why.</summary>
    public static ExportResult? TryParse(string? message, out string? error)
    {
        if (TrainerResult.ParseMessage(message, "export", out error) is not { } root) return null;
        var artefacts = new ArtefactsStatus();
        if (root["artefacts"] is JsonObject a)
            artefacts.Export = Text(a, "export") ?? Text(a, "model");
        if (root["sha256"] is JsonObject digests)
        {
            artefacts.Sha256 = digests
                .Where(p => p.Value is JsonValue v && v.TryGetValue<string>(out _))
                .OrderBy(p => p.Key, StringComparer.Ordinal)
                .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
        }
        var verification = new VerificationStatus();
        if (root["verify"] is JsonObject v)
        {
            verification.Passed = v["passed"] is JsonValue p && p.TryGetValue<bool>(out var passed) ? passed : null;
            verification.Tolerance = Number(v, "tolerance");
            verification.MaxRelativeError = Number(v, "max_relative_error");
            verification.MaxAbsError = Number(v, "max_abs_error");
            verification.Opset = Number(v, "opset") is { } opset ? (int)opset : null;
            verification.Batch = v["batch"] is JsonValue b ? (b.TryGetValue<string>(out var text) ? text : Number(v, "batch")?.ToString(CultureInfo.InvariantCulture)) : null;
            verification.Onnxruntime = Text(v, "onnxruntime");
        }
        if (artefacts.Export is null && verification.MaxRelativeError is null)
        {
            error = $"the export result names neither artefacts.export nor verify.max_relative_error: {TrainerResult.Truncate(message ?? "", 120)}";
            return null;
        }
        return new ExportResult(artefacts, verification);
    }

    private static string? Text(JsonObject obj, string key) =>
        obj[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static double? Number(JsonObject obj, string key) =>
        obj[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

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
