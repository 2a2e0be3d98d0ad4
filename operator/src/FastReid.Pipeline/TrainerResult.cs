using FastReid.Api.V1Alpha1;
using FastReid.Contracts;

namespace FastReid.Pipeline;

/// <summary>
/// What an experiment's status takes from the trainer's <see cref="RunResult"/> (the rank-0 pod's termination
/// message): metrics, artefact URIs with their digests (paths under a claim's mount as pvc:// URIs), and the budget used.
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
            // the trainer reports the paths it wrote; users and other resources read a claim's files by pvc:// URI
            Model = ClaimMounts.UriOf(a.Model),
            Checkpoint = ClaimMounts.UriOf(a.Checkpoint),
            Config = ClaimMounts.UriOf(a.Config),
            Export = ClaimMounts.UriOf(a.Export),
            Metrics = ClaimMounts.UriOf(a.Metrics),
            Manifest = ClaimMounts.UriOf(a.Manifest),
            Sha256 = Digests(result),
        };
        return new TrainerResult(result.Metrics ?? new ReidMetrics(), artefacts, result.Budget?.Used);
    }

    /// <summary>The result's digests in name order, as the status keeps them.</summary>
    internal static Dictionary<string, string>? Digests(RunResult result) =>
        result.Sha256?.ToDictionary(p => p.Key, p => p.Value);
}
