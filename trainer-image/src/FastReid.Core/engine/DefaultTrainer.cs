using System.Diagnostics;
using System.Globalization;
using FastReid.Config;
using FastReid.Data;
using FastReid.Engine.Hooks;
using FastReid.Evaluation;
using FastReid.Storage;

namespace FastReid.Engine;

/// <summary>How to run a training job (beyond the config): resume, where to print, the result file, metrics, extra hooks.</summary>
/// <param name="Hooks">Hooks run after the evaluation and best-model hooks and before the checkpointer (so a stop
/// decided on an evaluation still gets that epoch's checkpoint); for tuning and tests.</param>
public sealed record TrainOptions(bool Resume = false, TextWriter? Output = null, bool? Interactive = null, string? ResultFile = null, int? MetricsPort = null,
    IReadOnlyList<HookBase>? Hooks = null);

/// <summary>What a finished run produced; <paramref name="Epochs"/> is the budget used, <paramref name="StopReason"/> set when a hook ended it early.
/// <paramref name="IsMain"/> is false on the ranks other than 0 of a data-parallel run, which publish nothing.</summary>
public sealed record TrainOutcome(string OutputDir, ReidMetrics? Final, ReidMetrics? Best, int BestEpoch, string WeightsSha256,
    int Epochs, TimeSpan Duration, IReadOnlyDictionary<string, string> Artefacts, string? StopReason = null, bool IsMain = true);

/// <summary>
/// FastReID's DefaultTrainer: builds the run from the config, registers the default hooks (LR schedule,
/// progress, TensorBoard events, periodic evaluation, best model by (mAP + R1) / 2, checkpoints, publishing) around any extra
/// ones, trains for the config's budget, and writes <c>config.yaml</c>, <c>model_final.pth</c>,
/// <c>model_best.pth</c>, <c>metrics.json</c>, <c>manifest.json</c> and the result JSON to <c>OUTPUT_DIR</c>.
/// </summary>
public sealed class DefaultTrainer : TrainerBase
{
    private readonly TrainingSession _session;
    private readonly TrainLoader _loader;
    private readonly IReadOnlyList<ILossContributor> _contributors;

    private DefaultTrainer(TrainingSession session, TrainLoader loader, IReadOnlyList<HookBase> extraHooks) : base(session.ItersPerEpoch)
    {
        _session = session;
        _loader = loader;
        _contributors = extraHooks.OfType<ILossContributor>().ToList();
    }

    public override Modeling.MetaArch.MetaArch Model => _session.Model;

    protected override IReadOnlyDictionary<string, double> RunStep() => _session.Step.Run(_loader.Next(), Iteration, Epoch, _contributors);

    public static TrainOutcome Train(FastReidConfig cfg, TrainOptions options)
    {
        var watch = Stopwatch.StartNew();
        using var run = RunContext.Create(cfg, options.Output ?? Console.Out, options.Interactive ?? !Console.IsOutputRedirected, options.MetricsPort);
        var progress = run.Progress;
        using var session = new TrainingSession(cfg, run);
        progress.Line($"training set: {session.Train.Records.Count} images, {session.Train.NumClasses} identities ({string.Join(", ", cfg.Strings("DATASETS.NAMES"))})");
        if (session.Validation is { } validation) progress.Line(validation.Describe());
        else foreach (var t in session.EvaluationSets) progress.Line($"test set {t.Name}: {t.Query.Count} query, {t.Gallery.Count} gallery images");
        int maxEpoch = session.Budget.Epochs, itersPerEpoch = session.ItersPerEpoch, batchSize = session.BatchSize;
        var checkpointing = new Checkpointing(session, run);
        var state = options.Resume ? checkpointing.RestoreLatest() : null;
        if (options.Resume && state is null)
            progress.Line($"--resume: no valid checkpoint {(run.RunId is { } id ? $"of run {id} " : "")}in OUTPUT_DIR, starting from scratch");
        // only now: a refused resume leaves the output as it was
        if (run.IsMain) AtomicFile.WriteAllText(Path.Combine(run.OutputDir, "config.yaml"), cfg.ToYaml());

        progress.Line($"training {maxEpoch} epochs x {itersPerEpoch} iterations, batch {batchSize}, on {run.Device.type.ToString().ToLowerInvariant()} " +
                      $"with {TorchSharp.torch.get_num_threads()} threads, seed {run.Seed}; output in {run.OutputUri}");
        using var loader = session.CreateLoader(skipBatches: state?.DataPosition ?? 0);
        var extra = options.Hooks ?? [];
        var trainer = new DefaultTrainer(session, loader, extra)
        {
            Iteration = state?.Iteration ?? 0,
            LastMetrics = state?.Last,
            Best = state?.Best,
            BestEpoch = state?.BestEpoch ?? 0,
            BestScore = state?.BestScore ?? double.NegativeInfinity,
        };
        void SaveWeights(string file)
        {
            if (run.IsMain) AtomicFile.Write(Path.Combine(run.OutputDir, file), tmp => WeightLoading.Save(session.Model, tmp));
        }
        var checkpointer = new PeriodicCheckpointer(cfg.Int("SOLVER.CHECKPOINT_PERIOD"), checkpointing, trainer.CheckpointState);
        var progressHook = new ProgressHook(run, session.Step, batchSize);
        trainer.Register(new LRScheduler(session.Step), progressHook,
            new EvalHook(cfg.Int("TEST.EVAL_PERIOD"), epoch => Evaluate(session.Extractor, session.EvaluationSets, session.EvaluationOptions, progress, epoch, run.Collectives,
                rankingDir: run.IsMain ? run.OutputDir : null)),
            new BestCheckpointer(SaveWeights));
        // after the evaluation hook: its last evaluation (in AfterTrain) is written before the file is closed
        if (run.IsMain) trainer.Register(new TensorBoardHook(run, session.Step, progressHook));
        trainer.Register(extra);
        trainer.Register(checkpointer, new PublishHook(run, checkpointing, checkpointer));
        trainer.TrainEpochs(state?.Epoch ?? 0, maxEpoch);
        if (trainer.StopReason is { } reason) progress.Line($"stopped after epoch {trainer.EpochsDone} of {maxEpoch}: {reason}");

        SaveWeights("model_final.pth");
        var weightsSha = ArtefactFiles.WeightsSha256(session.Model);
        progress.Line($"done in {ProgressReporter.Format(watch.Elapsed)}; weights sha256 {weightsSha}; artefacts in {run.OutputUri}");
        int used = trainer.StopReason is null ? maxEpoch : trainer.EpochsDone;
        if (!run.IsMain)
            return new TrainOutcome(run.OutputDir, trainer.LastMetrics, trainer.Best, trainer.BestEpoch, weightsSha, used, watch.Elapsed,
                new Dictionary<string, string>(), trainer.StopReason, IsMain: false);
        var outcome = Results.Write(run, checkpointing.KeptEntries, trainer.LastMetrics, trainer.Best, trainer.BestEpoch, weightsSha, used, session.Budget.Key.Key,
            watch.Elapsed, options.ResultFile, session.EvaluatedOn, session.Validation);
        return outcome with { StopReason = trainer.StopReason };
    }

    protected override string? AgreeOnStop(string? reason)
    {
        var group = _session.Run.Collectives;
        if (group.WorldSize == 1) return reason;
        var reasons = group.AllGatherBytes(System.Text.Encoding.UTF8.GetBytes(reason ?? ""));
        return reasons.Select(System.Text.Encoding.UTF8.GetString).FirstOrDefault(r => r.Length > 0);
    }

    private TrainerState CheckpointState() => new(TrainerState.CurrentFormat, EpochsDone, Iteration, _loader.Position, _session.Run.Seed,
        Checkpointing.RngState(), double.IsFinite(BestScore) ? BestScore : null, BestEpoch, Best, LastMetrics,
        Run: _session.Run.RunId, Config: ResumeCheck.Record(_session.Config));

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

    /// <summary>
    /// Evaluates every test set, printing one line each; returns the first set's metrics (the one "best" is chosen by).
    /// With <paramref name="rankingDir"/>, the first set's ranked-gallery figure is written there (<see cref="RankingFile"/>),
    /// replaced at each evaluation so the last one stays; a figure that cannot be drawn costs a line, not the run.
    /// </summary>
    public static ReidMetrics? Evaluate(FeatureExtractor extractor, IReadOnlyList<Data.ReidDataset> tests, EvaluationOptions options,
        ProgressReporter progress, int epoch, Distributed.ICollectives? group = null, string? rankingDir = null)
    {
        bool first = true;
        return TestSetEvaluation.Run(extractor, tests, options, group: group, report: r =>
        {
            progress.Line(string.Create(CultureInfo.InvariantCulture,
                $"evaluation of {r.Test.Name} after epoch {epoch} ({r.Elapsed.TotalSeconds:F1} s): mAP {r.Metrics.MAP:P2}  R1 {r.Metrics.Rank1:P2}  R5 {r.Metrics.Rank5:P2}  R10 {r.Metrics.Rank10:P2}  mINP {r.Metrics.MINP:P2}"));
            if (first && rankingDir is not null)
            {
                try { RankingFile.Write(rankingDir, r, options.Metric, epoch); }
                catch (Exception e) when (e is FastReidException or IOException or UnauthorizedAccessException)
                {
                    progress.Line($"ranked-gallery figure not written: {e.Message}");
                }
            }
            first = false;
        }).FirstOrDefault();
    }
}
