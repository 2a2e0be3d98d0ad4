using FastReid.Api.V1Alpha1;
using FastReid.Contracts;

namespace FastReid.Pipeline;

/// <summary>
/// What an experiment's status takes from the trainer's <see cref="RunResult"/> (the rank-0 pod's termination
/// message): metrics, artefact URIs with their digests, and the budget used.
/// </summary>
public sealed record TrainerResult(ReidMetrics Metrics, ArtefactsStatus Artefacts, double? BudgetUsed)
{
    /// <summary>Parses a termination message; on failure returns null and says why.</summary>
    public static TrainerResult? TryParse(string? message, out string? error)
    {
        if (RunResult.TryParse(message, "the rank-0 pod", out error) is not { } result) return null;
        var a = result.Artefacts;
        var artefacts = new ArtefactsStatus
        {
            Model = a.Model, Checkpoint = a.Checkpoint, Config = a.Config, Export = a.Export, Metrics = a.Metrics, Manifest = a.Manifest,
            Sha256 = Digests(result),
        };
        return new TrainerResult(result.Metrics ?? new ReidMetrics(), artefacts, result.Budget?.Used);
    }

    /// <summary>The result's digests in name order, as the status keeps them.</summary>
    internal static Dictionary<string, string>? Digests(RunResult result) =>
        result.Sha256?.ToDictionary(p => p.Key, p => p.Value);
}
