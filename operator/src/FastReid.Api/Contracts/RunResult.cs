using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastReid.Api.V1Alpha1;

namespace FastReid.Contracts;

/// <summary>
/// The trainer↔operator result contract: what <c>fastreid train</c> and <c>fastreid export</c> write to
/// <c>$FASTREID_RESULT_FILE</c> (a pod's <c>/dev/termination-log</c>, read back by the operator as the
/// termination message; <c>&lt;output&gt;/result.json</c> locally) and what the planners read. Both sides use
/// this one type, so a field is spelled once.
/// <list type="bullet">
/// <item>At most <see cref="MaxBytes"/> (the kubelet truncates termination messages beyond 4 KB): <see cref="ToJson"/>
/// trims what can be found elsewhere (digests are in manifest.json) before it would exceed that.</item>
/// <item><see cref="Version"/> says which shape this is. Version 1 is the shape that shipped before the field
/// existed, so a result without it is read as 1; a newer version than <see cref="CurrentVersion"/> is refused
/// by name rather than half-read.</item>
/// </list>
/// </summary>
public sealed class RunResult
{
    public const int CurrentVersion = 1;
    public const int MaxBytes = 4096;
    public const string Succeeded = "Succeeded";
    /// <summary><see cref="EvaluatedOn"/> of a run scored on held-out training identities (DATASETS.VALIDATION.IDENTITY_FRACTION above 0).</summary>
    public const string EvaluatedOnValidation = "validation";
    /// <summary><see cref="EvaluatedOn"/> of a run scored on the test sets of DATASETS.TESTS.</summary>
    public const string EvaluatedOnTest = "test";

    [JsonPropertyName("version")] public int Version { get; set; } = CurrentVersion;
    [JsonPropertyName("status")] public string Status { get; set; } = Succeeded;
    /// <summary>"onnx" for an export; absent for training.</summary>
    [JsonPropertyName("format")] public string? Format { get; set; }
    /// <summary>The final evaluation (fractions), as FastReID's evaluator names them.</summary>
    [JsonPropertyName("metrics")] public ReidMetrics? Metrics { get; set; }
    /// <summary>
    /// Which split <see cref="Metrics"/> come from: <see cref="EvaluatedOnValidation"/> or <see cref="EvaluatedOnTest"/>; set with
    /// the metrics. Absent in results written before the field existed, which were all of the test set.
    /// </summary>
    [JsonPropertyName("evaluatedOn")] public string? EvaluatedOn { get; set; }
    [JsonPropertyName("artefacts")] public ResultArtefacts Artefacts { get; set; } = new();
    /// <summary>sha256 of artefact files by name (config.yaml, model_final.pth, model.onnx, ...).</summary>
    [JsonPropertyName("sha256")] public SortedDictionary<string, string>? Sha256 { get; set; }
    /// <summary>Digest of the weights themselves (see metrics.json), equal for identical weights however saved.</summary>
    [JsonPropertyName("weights_sha256")] public string? WeightsSha256 { get; set; }
    [JsonPropertyName("budget")] public ResultBudget? Budget { get; set; }
    /// <summary>An export's onnxruntime check.</summary>
    [JsonPropertyName("verify")] public ResultVerification? Verify { get; set; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    /// <summary>
    /// Compact JSON of at most <see cref="MaxBytes"/>: when the full form is larger (very long URIs), the digests go
    /// first, then the URIs a reader can derive from the model's folder (metrics, manifest, checkpoint, verify).
    /// </summary>
    public string ToJson()
    {
        var text = JsonSerializer.Serialize(this, Json);
        if (Fits(text)) return text;
        var trimmed = JsonSerializer.Deserialize<RunResult>(text, Json)!;
        trimmed.Sha256 = null;
        text = JsonSerializer.Serialize(trimmed, Json);
        if (Fits(text)) return text;
        trimmed.Artefacts = new ResultArtefacts { Model = Artefacts.Model, Config = Artefacts.Config, Export = Artefacts.Export };
        text = JsonSerializer.Serialize(trimmed, Json);
        return Fits(text) ? text
            : throw new InvalidOperationException($"the result is {Encoding.UTF8.GetByteCount(text)} bytes even without digests and derived URIs; a termination message holds {MaxBytes}");
    }

    private static bool Fits(string text) => Encoding.UTF8.GetByteCount(text) <= MaxBytes;

    /// <summary>Reads a result; on failure returns null and says why (naming <paramref name="source"/>, e.g. "the rank-0 pod").</summary>
    public static RunResult? TryParse(string? text, string source, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text)) { error = $"{source} left no termination message"; return null; }
        RunResult? result;
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("not a JSON object");
            result = document.RootElement.Deserialize<RunResult>(Json);
        }
        catch (JsonException e)
        {
            error = $"{source}'s termination message is not result JSON ({e.Message}): {Truncate(text, 120)}";
            return null;
        }
        if (result is null) { error = $"{source}'s termination message is not result JSON: {Truncate(text, 120)}"; return null; }
        if (result.Version > CurrentVersion || result.Version < 1)
        {
            error = $"{source} wrote result version {result.Version}, and this operator reads versions 1 to {CurrentVersion}: upgrade the operator or use a matching trainer image";
            return null;
        }
        return result;
    }

    public static string Truncate(string text, int length) =>
        text.Length <= length ? text : text[..length] + "…";
}

/// <summary>URIs of what the run published (s3:// or local paths).</summary>
public sealed class ResultArtefacts
{
    [JsonPropertyName("model")] public string? Model { get; set; }
    [JsonPropertyName("config")] public string? Config { get; set; }
    [JsonPropertyName("metrics")] public string? Metrics { get; set; }
    [JsonPropertyName("manifest")] public string? Manifest { get; set; }
    /// <summary>The newest kept checkpoint folder.</summary>
    [JsonPropertyName("checkpoint")] public string? Checkpoint { get; set; }
    /// <summary>An export's model.onnx.</summary>
    [JsonPropertyName("export")] public string? Export { get; set; }
    /// <summary>An export's verify.json.</summary>
    [JsonPropertyName("verify")] public string? Verify { get; set; }
}

/// <summary>How much of the budget the run used, in the unit of the config key that carries it (e.g. epochs for SOLVER.MAX_EPOCH).</summary>
public sealed class ResultBudget
{
    [JsonPropertyName("key")] public string Key { get; set; } = "";
    [JsonPropertyName("used")] public double Used { get; set; }
}

/// <summary>The figures of an export's onnxruntime check (verify.json holds them all).</summary>
public sealed class ResultVerification
{
    [JsonPropertyName("passed")] public bool Passed { get; set; }
    [JsonPropertyName("tolerance")] public double Tolerance { get; set; }
    [JsonPropertyName("max_relative_error")] public double MaxRelativeError { get; set; }
    [JsonPropertyName("max_abs_error")] public double MaxAbsError { get; set; }
    /// <summary>"dynamic" or the static batch size.</summary>
    [JsonPropertyName("batch")] public string Batch { get; set; } = "dynamic";
    [JsonPropertyName("opset")] public int Opset { get; set; }
    [JsonPropertyName("onnxruntime")] public string? Onnxruntime { get; set; }
}
