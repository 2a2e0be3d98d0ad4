using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Contracts;
using FastReid.Evaluation;
using ReidMetricsStatus = FastReid.Api.V1Alpha1.ReidMetrics;
using FastReid.Storage;

namespace FastReid.Engine;

/// <summary>
/// Writes the run's record: <c>metrics.json</c> (with <c>evaluatedOn</c>, "validation" or "test", and the validation
/// split's figures and held-out identities when there is one), <c>manifest.json</c> (size and sha256 of every artefact)
/// and the result JSON of the operator contract (≤ 4 KB) to <c>$FASTREID_RESULT_FILE</c> or the given path.
/// </summary>
public static class Results
{
    internal static TrainOutcome Write(RunContext run, IReadOnlyList<Storage.ManifestEntry> checkpoints, ReidMetrics? final, ReidMetrics? best, int bestEpoch,
        string weightsSha, int epochs, string budgetKey, TimeSpan duration, string? resultFile, string evaluatedOn, Data.ValidationSplit? validation)
    {
        var dir = run.OutputDir;
        var metrics = new JsonObject
        {
            ["mAP"] = final?.MAP, ["rank1"] = final?.Rank1, ["rank5"] = final?.Rank5, ["rank10"] = final?.Rank10, ["mINP"] = final?.MINP,
            ["epoch"] = epochs,
            ["evaluatedOn"] = evaluatedOn,
            ["validation"] = validation is null ? null : new JsonObject
            {
                ["identity_fraction"] = validation.Fraction, ["seed"] = validation.Seed,
                ["identities"] = validation.HeldOut.Count, ["query"] = validation.Validation.Query.Count, ["gallery"] = validation.Validation.Gallery.Count,
                ["held_out"] = new JsonArray([.. validation.HeldOut.Select(h => (JsonNode?)$"{h.Dataset}:{h.Pid}")]),
            },
            ["best"] = best is null ? null : new JsonObject
            {
                ["epoch"] = bestEpoch, ["mAP"] = best.MAP, ["rank1"] = best.Rank1, ["rank5"] = best.Rank5, ["rank10"] = best.Rank10, ["mINP"] = best.MINP,
            },
            ["weights_sha256"] = weightsSha,
            ["seed"] = run.Seed,
            ["train_seconds"] = Math.Round(duration.TotalSeconds, 1),
        };
        if (final?.TprAtFpr is { } roc) metrics["tpr@fpr"] = new JsonObject(roc.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        AtomicFile.WriteAllText(Path.Combine(dir, "metrics.json"), metrics.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var artefacts = new[] { "config.yaml", "model_final.pth", "model_best.pth", "metrics.json" }
            .Where(f => File.Exists(Path.Combine(dir, f))).ToList();
        run.Progress.Line($"publishing artefacts to {run.OutputUri}");
        var manifest = DefaultTrainer.Publish(run, checkpoints);
        var digests = manifest.Entries.Where(e => artefacts.Contains(e.Path)).ToDictionary(e => e.Path, e => e.Sha256);

        var result = new RunResult
        {
            Metrics = final is null ? null : new ReidMetricsStatus { MAP = final.MAP, Rank1 = final.Rank1, Rank5 = final.Rank5, Rank10 = final.Rank10, MINP = final.MINP },
            EvaluatedOn = final is null ? null : evaluatedOn,
            Artefacts = new ResultArtefacts
            {
                Model = run.Storage.UriOf("model_final.pth"), Config = run.Storage.UriOf("config.yaml"),
                Metrics = run.Storage.UriOf("metrics.json"), Manifest = run.Storage.UriOf("manifest.json"),
                Checkpoint = checkpoints.Count > 0 ? run.Storage.UriOf(checkpoints.Select(e => e.Path[..e.Path.LastIndexOf('/')]).Max(StringComparer.Ordinal)!) : null,
            },
            Sha256 = new SortedDictionary<string, string>(digests, StringComparer.Ordinal),
            WeightsSha256 = weightsSha,
            Budget = new ResultBudget { Key = budgetKey, Used = epochs },
        };
        var target = ResultFile.Write(result, resultFile ?? ResultFile.FromEnvironment() ?? Path.Combine(dir, "result.json"));
        if (run.IsRemote && resultFile is null && ResultFile.FromEnvironment() is null)
            run.Storage.PutFileAsync(target, "result.json").GetAwaiter().GetResult();

        return new TrainOutcome(dir, final, best, bestEpoch, weightsSha, epochs, duration,
            artefacts.ToDictionary(f => f, f => Path.Combine(dir, f)));
    }
}
