using System.Text.Json;
using System.Text.Json.Serialization;
using FastReid.Evaluation;

namespace FastReid.Engine;

/// <summary>
/// What a checkpoint records besides model and optimizer: where training stands (epochs done, iteration,
/// batches drawn from the sampler), the seed and torch's RNG state, and the best evaluation so far. With
/// these a resumed run continues exactly where the checkpoint was taken.
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
    [property: JsonPropertyName("last")] ReidMetrics? Last)
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
