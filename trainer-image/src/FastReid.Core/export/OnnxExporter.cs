using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastReid.Modeling.MetaArch;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using FastReid.Contracts;
using FastReid.Storage;

namespace FastReid.Export;

/// <summary>
/// What to export: opset, batch axis (null = dynamic), the input size and the verification tolerance;
/// <paramref name="Images"/> are image files verified besides the random batches (real pixel statistics).
/// </summary>
public sealed record OnnxExportOptions(long Height, long Width, int Opset = 17, long? StaticBatch = null, double Tolerance = 1e-4, long Seed = 0,
    IReadOnlyList<string>? Images = null);

/// <summary>The figures written to <c>verify.json</c>.</summary>
public sealed record VerifyReport(
    [property: JsonPropertyName("passed")] bool Passed,
    [property: JsonPropertyName("tolerance")] double Tolerance,
    [property: JsonPropertyName("max_relative_error")] double MaxRelativeError,
    [property: JsonPropertyName("max_abs_error")] double MaxAbsError,
    [property: JsonPropertyName("opset")] int Opset,
    [property: JsonPropertyName("batch")] string Batch,
    [property: JsonPropertyName("input")] long?[] Input,
    [property: JsonPropertyName("output_dim")] long OutputDim,
    [property: JsonPropertyName("onnxruntime")] string OnnxRuntime,
    [property: JsonPropertyName("model_sha256")] string? ModelSha256,
    [property: JsonPropertyName("relative_error")] string RelativeErrorDefinition,
    [property: JsonPropertyName("checks")] IReadOnlyList<VerifyCheckJson> Checks);

public sealed record VerifyCheckJson(
    [property: JsonPropertyName("input")] string Input,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("max_abs_error")] double MaxAbsError,
    [property: JsonPropertyName("max_relative_error")] double MaxRelativeError,
    [property: JsonPropertyName("passed")] bool Passed);

/// <summary>
/// Writes <c>DIR/model.onnx</c> only after onnxruntime reproduces the TorchSharp model within the tolerance
/// (batch 1 and 7, or the static batch); <c>DIR/verify.json</c> holds the figures either way.
/// </summary>
public static class OnnxExporter
{
    public const string ModelFile = "model.onnx";
    public const string VerifyFile = "verify.json";
    private const string RelativeErrorDefinition = "per image max|onnx-torch| / max|torch|, worst image";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static VerifyReport Export(MetaArch model, OnnxExportOptions options, string outputDir, Action<string> log)
    {
        if (!(options.Tolerance > 0) || !double.IsFinite(options.Tolerance))
            throw new FastReidException($"--tolerance must be a positive number (got {options.Tolerance})");
        model.eval();
        // a model the writer refuses leaves no folder behind
        var proto = BaselineOnnxWriter.Write(model, options.Height, options.Width, options.Opset, options.StaticBatch);
        var bytes = proto.ToByteArray();
        Directory.CreateDirectory(outputDir);
        var final = Path.Combine(outputDir, ModelFile);
        // verified before it takes its name; the temporary name carries the marker listings and manifests skip
        var temp = AtomicFile.TempPathFor(final);
        File.WriteAllBytes(temp, bytes);
        try
        {
            var checks = new List<VerifyCheck>();
            using (var sessionOptions = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR })
            using (var session = LoadSession(temp, sessionOptions))
            {
                int[] batches = options.StaticBatch is { } b ? [(int)b] : [1, 7];
                foreach (var batch in batches)
                {
                    var check = OnnxVerifier.CompareRandom(model, session, batch, options.Height, options.Width, options.Tolerance, options.Seed + batch);
                    log($"verify batch {batch}: max relative error {check.MaxRelativeError:E2}, max abs error {check.MaxAbsError:E2} ({(check.Passed ? "ok" : "FAILED")})");
                    checks.Add(check);
                }
                if (options.Images is { Count: > 0 } files)
                {
                    foreach (var batch in batches)
                    {
                        // a static batch takes exactly its size: the files are repeated when there are fewer
                        using var images = ImageBatch(files, batch, options.Height, options.Width);
                        var check = OnnxVerifier.Compare(model, session, images, $"{batch} image file(s) from {Path.GetDirectoryName(files[0])}", options.Tolerance);
                        log($"verify batch {batch} on images: max relative error {check.MaxRelativeError:E2}, max abs error {check.MaxAbsError:E2} ({(check.Passed ? "ok" : "FAILED")})");
                        checks.Add(check);
                    }
                }
            }
            bool passed = checks.All(c => c.Passed);
            var outputDim = proto.Graph.Output[0].Type.TensorType.Shape.Dim[1].DimValue;
            var report = new VerifyReport(passed, options.Tolerance, checks.Max(c => c.MaxRelativeError), checks.Max(c => c.MaxAbsError), options.Opset,
                options.StaticBatch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "dynamic",
                [options.StaticBatch, 3, options.Height, options.Width], outputDim, OrtVersion(),
                passed ? Convert.ToHexStringLower(SHA256.HashData(bytes)) : null, RelativeErrorDefinition,
                checks.Select(c => new VerifyCheckJson(c.Input, c.Batch, c.MaxAbsError, c.MaxRelativeError, c.Passed)).ToList());
            AtomicFile.WriteAllText(Path.Combine(outputDir, VerifyFile), JsonSerializer.Serialize(report, Json) + "\n");
            if (!passed)
            {
                // a model.onnx from an earlier export would sit next to figures that no longer describe it
                if (File.Exists(final)) File.Delete(final);
                var worst = checks.MaxBy(c => c.MaxRelativeError)!;
                throw new ExportVerificationException(
                    $"ONNX verification failed: at batch {worst.Batch} onnxruntime differs from the TorchSharp model by {worst.MaxRelativeError:E2} relative (tolerance {options.Tolerance:E1}); no {ModelFile} written, figures in {Path.Combine(outputDir, VerifyFile)}");
            }
            File.Move(temp, final, overwrite: true);
            return report;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// The operator contract's result for an export: where the model and the figures are (local paths or s3://
    /// URIs), the model's sha256 and the verification figures, for the ExportJob status.
    /// </summary>
    public static RunResult Result(VerifyReport report, string modelUri, string verifyUri) => new()
    {
        Format = "onnx",
        Artefacts = new ResultArtefacts { Export = modelUri, Verify = verifyUri },
        Sha256 = report.ModelSha256 is { } sha ? new SortedDictionary<string, string>(StringComparer.Ordinal) { [ModelFile] = sha } : null,
        Verify = new ResultVerification
        {
            Passed = report.Passed, Tolerance = report.Tolerance, MaxRelativeError = report.MaxRelativeError, MaxAbsError = report.MaxAbsError,
            Batch = report.Batch, Opset = report.Opset, Onnxruntime = report.OnnxRuntime,
        },
    };

    /// <summary>Float RGB 0–255 [batch, 3, H, W] from image files, decoded as <c>fastreid embed</c> decodes them.</summary>
    private static TorchSharp.torch.Tensor ImageBatch(IReadOnlyList<string> files, int batch, long height, long width)
    {
        int h = (int)height, w = (int)width;
        var bytes = new byte[batch * h * w * 3];
        for (int i = 0; i < batch; i++)
            FastReid.Data.ImageDecoder.Decode(files[i % files.Count], h, w).CopyTo(bytes, i * h * w * 3);
        using var hwc = TorchSharp.torch.tensor(bytes, [batch, h, w, 3]);
        return hwc.permute(0, 3, 1, 2).to(TorchSharp.torch.float32).contiguous();
    }

    private static InferenceSession LoadSession(string path, SessionOptions options)
    {
        try
        {
            return new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new FastReidException($"onnxruntime rejected the exported graph: {e.Message}");
        }
    }

    private static string OrtVersion() =>
        typeof(InferenceSession).Assembly.GetName().Version?.ToString(3) ?? "unknown";
}

/// <summary>onnxruntime disagrees with the TorchSharp model beyond the tolerance: retrying will not help (exit code 3).</summary>
public sealed class ExportVerificationException(string message) : FastReidException(message)
{
    public override int ExitCode => ExitCodes.VerificationFailed;
}
