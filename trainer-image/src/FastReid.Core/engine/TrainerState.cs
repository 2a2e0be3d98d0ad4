using System.Text.Json;
using System.Text.Json.Serialization;
using FastReid.Evaluation;

namespace FastReid.Engine;

/// <summary>
/// What a checkpoint records besides model and optimizer: where training stands (epochs done, iteration,
/// batches drawn from the sampler), the seed and torch's RNG state, and the best evaluation so far. With
/// these a resumed run continues exactly where the checkpoint was taken.
/// <para>
/// It also records what it was trained with, for <see cref="ResumeCheck"/>: <see cref="Config"/>, the effective
/// config (every key, as config.yaml writes its value), and <see cref="Run"/>, the run it belongs to
/// ($FASTREID_RUN_ID, set by the operator; null when unset). Both are null in checkpoints written before they
/// were recorded; such checkpoints stay readable (same format: the fields are optional).
/// </para>
/// </summary>
public sealed record TrainerState(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("iteration")] long Iteration,
    [property: JsonPropertyName("data_position")] long DataPosition,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("torch_rng_state")] string TorchRngState,
    [property: JsonPropertyName("best_score")] double? BestScore,
    [property: JsonPropertyName("best_epoch")] int BestEpoch,
    [property: JsonPropertyName("best")] ReidMetrics? Best,
    [property: JsonPropertyName("last")] ReidMetrics? Last,
    [property: JsonPropertyName("run")] string? Run = null,
    [property: JsonPropertyName("config")] IReadOnlyDictionary<string, string>? Config = null)
{
    public const string CurrentFormat = "fastreid.trainer_state/v1";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static TrainerState Read(string path)
    {
        var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllBytes(path))
            ?? throw new FastReidException($"{path}: empty trainer state");
        if (state.Format != CurrentFormat)
            throw new FastReidException($"{path}: trainer state format '{state.Format}' is not {CurrentFormat}");
        return state;
    }
}
