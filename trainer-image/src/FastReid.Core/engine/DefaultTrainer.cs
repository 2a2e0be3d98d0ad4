using System.Diagnostics;
using System.Globalization;
using FastReid.Config;
using FastReid.Evaluation;
using FastReid.Storage;

namespace FastReid.Engine;

/// <summary>How to run a training job (beyond the config): resume, where to print, the result file, metrics.</summary>
public sealed record TrainOptions(bool Resume = false, TextWriter? Output = null, bool? Interactive = null, string? ResultFile = null, int? MetricsPort = null);

/// <summary>What a finished run produced.</summary>
public sealed record TrainOutcome(string OutputDir, ReidMetrics? Final, ReidMetrics? Best, int BestEpoch, string WeightsSha256,
    int Epochs, TimeSpan Duration, IReadOnlyDictionary<string, string> Artefacts);

/// <summary>
/// FastReID's DefaultTrainer for the Baseline: trains epoch by epoch with periodic evaluation, and
/// writes <c>config.yaml</c>, <c>model_final.pth</c>, <c>model_best.pth</c> (best (mAP + R1) / 2),
/// <c>metrics.json</c>, <c>manifest.json</c> and the result JSON to <c>OUTPUT_DIR</c>.
/// </summary>
public static class DefaultTrainer
{
    public static TrainOutcome Train(FastReidConfig cfg, TrainOptions options)
    {
        var watch = Stopwatch.StartNew();
        using var run = RunContext.Create(cfg, options.Output ?? Console.Out, options.Interactive ?? !Console.IsOutputRedirected, options.MetricsPort);
        var progress = run.Progress;
        using var session = new TrainingSession(cfg, run);
        progress.Line($"training set: {session.Train.Records.Count} images, {session.Train.NumClasses} identities ({string.Join(", ", cfg.Strings("DATASETS.NAMES"))})");
        foreach (var t in session.Tests) progress.Line($"test set {t.Name}: {t.Query.Count} query, {t.Gallery.Count} gallery images");
        AtomicFile.WriteAllText(Path.Combine(run.OutputDir, "config.yaml"), cfg.ToYaml());

        int maxEpoch = session.MaxEpoch, itersPerEpoch = session.ItersPerEpoch, batchSize = session.BatchSize;
        int evalPeriod = cfg.Int("TEST.EVAL_PERIOD"), checkpointPeriod = cfg.Int("SOLVER.CHECKPOINT_PERIOD");
        var checkpointing = new Checkpointing(session, run);
        var state = options.Resume ? checkpointing.RestoreLatest() : null;
        if (options.Resume && state is null) progress.Line("--resume: no valid checkpoint in OUTPUT_DIR, starting from scratch");
        int startEpoch = state?.Epoch ?? 0;
        long iteration = state?.Iteration ?? 0;
        ReidMetrics? final = state?.Last, best = state?.Best;
        int bestEpoch = state?.BestEpoch ?? 0;
        double bestScore = state?.BestScore ?? double.NegativeInfinity;

        progress.Line($"training {maxEpoch} epochs x {itersPerEpoch} iterations, batch {batchSize}, on {run.Device.type.ToString().ToLowerInvariant()} " +
                      $"with {TorchSharp.torch.get_num_threads()} threads, seed {run.Seed}; output in {run.OutputUri}");
        using var loader = session.CreateLoader(skipBatches: state?.DataPosition ?? 0);
        long firstIteration = iteration;
        var iterWatch = Stopwatch.StartNew();
        for (int epoch = startEpoch; epoch < maxEpoch; epoch++)
        {
            for (int it = 1; it <= itersPerEpoch; it++)
            {
                var losses = session.Step.Run(loader.Next(), iteration, epoch);
                iteration++;
                double perIter = iterWatch.Elapsed.TotalSeconds / (iteration - firstIteration);
                var eta = TimeSpan.FromSeconds(perIter * ((long)maxEpoch * itersPerEpoch - iteration));
                progress.Iteration(epoch + 1, maxEpoch, it, itersPerEpoch, losses, session.Step.LearningRate, batchSize / perIter, eta);
                run.Metrics.Iteration(losses.Values.Sum(), session.Step.LearningRate, batchSize / perIter, epoch + 1);
            }

            bool last = epoch + 1 == maxEpoch, improved = false;
            if (last || evalPeriod > 0 && (epoch + 1) % evalPeriod == 0)
            {
                var metrics = Evaluate(session.Extractor, session.Tests, session.EvaluationOptions, progress, epoch + 1);
                if (metrics is not null)
                {
                    final = metrics;
                    run.Metrics.Evaluated(metrics.MAP);
                    double score = (metrics.MAP + metrics.Rank1) / 2;
                    if (score > bestScore)
                    {
                        (bestScore, best, bestEpoch, improved) = (score, metrics, epoch + 1, true);
                        AtomicFile.Write(Path.Combine(run.OutputDir, "model_best.pth"), tmp => WeightLoading.Save(session.Model, tmp));
                    }
                }
            }
            if (last || checkpointPeriod > 0 && (epoch + 1) % checkpointPeriod == 0)
            {
                checkpointing.Save(new TrainerState(TrainerState.CurrentFormat, epoch + 1, iteration, loader.Position, run.Seed,
                    Checkpointing.RngState(), double.IsFinite(bestScore) ? bestScore : null, bestEpoch, best, final), improved);
                if (run.IsRemote) Publish(run, checkpointing.KeptEntries);
            }
        }

        AtomicFile.Write(Path.Combine(run.OutputDir, "model_final.pth"), tmp => WeightLoading.Save(session.Model, tmp));
        var weightsSha = ArtefactFiles.WeightsSha256(session.Model);
        progress.Line($"done in {ProgressReporter.Format(watch.Elapsed)}; weights sha256 {weightsSha}; artefacts in {run.OutputUri}");
        return Results.Write(run, checkpointing.KeptEntries, final, best, bestEpoch, weightsSha, maxEpoch, watch.Elapsed, options.ResultFile);
    }

    /// <summary>
    /// Publishes the run's folder with manifest.json last. The live log and the result file are not
    /// artefacts with a digest (they change while being published): the log is uploaded afterwards as is.
    /// </summary>
    internal static Storage.ArtifactManifest Publish(RunContext run, IReadOnlyList<Storage.ManifestEntry> checkpoints)
    {
        static bool Live(string path) => path is "log.txt" or "result.json";
        var manifest = Storage.ArtifactManifest.PublishDirectoryAsync(run.OutputDir, run.Storage, checkpoints, exclude: Live).GetAwaiter().GetResult();
        if (run.IsRemote) run.Storage.PutFileAsync(Path.Combine(run.OutputDir, "log.txt"), "log.txt").GetAwaiter().GetResult();
        return manifest;
    }

    public static EvaluationOptions EvaluationOptionsFrom(FastReidConfig cfg) => new(
        Metric: cfg.String("TEST.METRIC"),
        Rerank: cfg.Bool("TEST.RERANK.ENABLED"), K1: cfg.Int("TEST.RERANK.K1"), K2: cfg.Int("TEST.RERANK.K2"), Lambda: cfg.Float("TEST.RERANK.LAMBDA"),
        Aqe: cfg.Bool("TEST.AQE.ENABLED"), QeTimes: cfg.Int("TEST.AQE.QE_TIME"), QeK: cfg.Int("TEST.AQE.QE_K"), Alpha: cfg.Float("TEST.AQE.ALPHA"),
        Roc: cfg.Bool("TEST.ROC.ENABLED"));

    /// <summary>Evaluates every test set; returns the first set's metrics (the one "best" is chosen by).</summary>
    public static ReidMetrics? Evaluate(FeatureExtractor extractor, IReadOnlyList<Data.ReidDataset> tests, EvaluationOptions options,
        ProgressReporter progress, int epoch)
    {
        ReidMetrics? first = null;
        foreach (var test in tests)
        {
            var watch = Stopwatch.StartNew();
            var query = extractor.Extract(test.Query);
            var gallery = extractor.Extract(test.Gallery);
            var m = ReidEvaluator.Evaluate(query, gallery, options);
            first ??= m;
            progress.Line(string.Create(CultureInfo.InvariantCulture,
                $"evaluation of {test.Name} after epoch {epoch} ({watch.Elapsed.TotalSeconds:F1} s): mAP {m.MAP:P2}  R1 {m.Rank1:P2}  R5 {m.Rank5:P2}  R10 {m.Rank10:P2}  mINP {m.MINP:P2}"));
        }
        return first;
    }
}
