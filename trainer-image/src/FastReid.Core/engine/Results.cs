using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Evaluation;

namespace FastReid.Engine;

/// <summary>
/// Writes the run's record: <c>metrics.json</c>, <c>manifest.json</c> (size and sha256 of every artefact)
/// and the result JSON of the operator contract (≤ 4 KB) to <c>$FASTREID_RESULT_FILE</c> or the given path.
/// </summary>
public static class Results
{
    public const int MaxResultBytes = 4096;

    internal static TrainOutcome Write(RunContext run, ReidMetrics? final, ReidMetrics? best, int bestEpoch,
        string weightsSha, int epochs, TimeSpan duration, string? resultFile)
    {
        var dir = run.OutputDir;
        var metrics = new JsonObject
        {
            ["mAP"] = final?.MAP, ["rank1"] = final?.Rank1, ["rank5"] = final?.Rank5, ["rank10"] = final?.Rank10, ["mINP"] = final?.MINP,
            ["epoch"] = epochs,
            ["best"] = best is null ? null : new JsonObject
            {
                ["epoch"] = bestEpoch, ["mAP"] = best.MAP, ["rank1"] = best.Rank1, ["rank5"] = best.Rank5, ["rank10"] = best.Rank10, ["mINP"] = best.MINP,
            },
            ["weights_sha256"] = weightsSha,
            ["seed"] = run.Seed,
            ["train_seconds"] = Math.Round(duration.TotalSeconds, 1),
        };
        if (final?.TprAtFpr is { } roc) metrics["tpr@fpr"] = new JsonObject(roc.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        ArtefactFiles.WriteAllTextAtomic(Path.Combine(dir, "metrics.json"), metrics.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var artefacts = new[] { "config.yaml", "model_final.pth", "model_best.pth", "metrics.json" }
            .Where(f => File.Exists(Path.Combine(dir, f))).ToList();
        var digests = artefacts.ToDictionary(f => f, f => ArtefactFiles.Sha256File(Path.Combine(dir, f)));
        var manifest = new JsonObject
        {
            ["files"] = new JsonArray(artefacts.Select(f => (JsonNode)new JsonObject
            {
                ["path"] = f, ["size"] = new FileInfo(Path.Combine(dir, f)).Length, ["sha256"] = digests[f],
            }).ToArray()),
        };
        ArtefactFiles.WriteAllTextAtomic(Path.Combine(dir, "manifest.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var result = new JsonObject
        {
            ["status"] = "Succeeded",
            ["metrics"] = final is null ? null : new JsonObject
            {
                ["mAP"] = final.MAP, ["rank1"] = final.Rank1, ["rank5"] = final.Rank5, ["rank10"] = final.Rank10, ["mINP"] = final.MINP,
            },
            ["artefacts"] = new JsonObject
            {
                ["model"] = Path.Combine(dir, "model_final.pth"), ["config"] = Path.Combine(dir, "config.yaml"),
                ["metrics"] = Path.Combine(dir, "metrics.json"), ["manifest"] = Path.Combine(dir, "manifest.json"),
            },
            ["sha256"] = new JsonObject(digests.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["weights_sha256"] = weightsSha,
            ["budget"] = new JsonObject { ["key"] = "SOLVER.MAX_EPOCH", ["used"] = epochs },
        };
        var text = result.ToJsonString();
        if (text.Length > MaxResultBytes)
        {
            result.Remove("sha256");
            text = result.ToJsonString();
        }
        var target = resultFile ?? Environment.GetEnvironmentVariable("FASTREID_RESULT_FILE") ?? Path.Combine(dir, "result.json");
        if (target.StartsWith("/dev/", StringComparison.Ordinal)) File.WriteAllText(target, text);
        else ArtefactFiles.WriteAllTextAtomic(target, text + "\n");

        return new TrainOutcome(dir, final, best, bestEpoch, weightsSha, epochs, duration,
            artefacts.ToDictionary(f => f, f => Path.Combine(dir, f)));
    }
}
