using System.Diagnostics;
using System.Globalization;
using FastReid.Config;
using FastReid.Data;
using FastReid.Data.Samplers;
using FastReid.Data.Transforms;
using FastReid.Evaluation;
using FastReid.Modeling.MetaArch;
using FastReid.Solver;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>How to run a training job (beyond the config): resume, where to print, the result file.</summary>
public sealed record TrainOptions(bool Resume = false, TextWriter? Output = null, bool? Interactive = null, string? ResultFile = null, int? MetricsPort = null);

/// <summary>What a finished run produced.</summary>
public sealed record TrainOutcome(string OutputDir, ReidMetrics? Final, ReidMetrics? Best, int BestEpoch, string WeightsSha256,
    int Epochs, TimeSpan Duration, IReadOnlyDictionary<string, string> Artefacts);

/// <summary>
/// FastReID's DefaultTrainer for the Baseline: builds data, model and solver from the config, trains
/// epoch by epoch with periodic evaluation, and writes <c>config.yaml</c>, <c>model_final.pth</c>,
/// <c>model_best.pth</c>, <c>metrics.json</c> and the result JSON to <c>OUTPUT_DIR</c>.
/// </summary>
public static class DefaultTrainer
{
    public static TrainOutcome Train(FastReidConfig cfg, TrainOptions options)
    {
        var output = options.Output ?? Console.Out;
        bool interactive = options.Interactive ?? !Console.IsOutputRedirected;
        var watch = Stopwatch.StartNew();
        var run = RunContext.Create(cfg, output, interactive, options.MetricsPort);
        var progress = run.Progress;

        var train = DataBuilder.BuildTrain(cfg);
        var tests = DataBuilder.BuildTests(cfg);
        int numClasses = cfg.Int("MODEL.HEADS.NUM_CLASSES");
        if (numClasses == 0) cfg.SetValue("MODEL.HEADS.NUM_CLASSES", (long)train.NumClasses);
        else if (numClasses != train.NumClasses)
            throw new FastReidException($"MODEL.HEADS.NUM_CLASSES is {numClasses} but the training set has {train.NumClasses} identities (set 0 to use the data)");
        progress.Line($"training set: {train.Records.Count} images, {train.NumClasses} identities ({string.Join(", ", cfg.Strings("DATASETS.NAMES"))})");
        foreach (var t in tests) progress.Line($"test set {t.Name}: {t.Query.Count} query, {t.Gallery.Count} gallery images");
        ArtefactFiles.WriteAllTextAtomic(Path.Combine(run.OutputDir, "config.yaml"), cfg.ToYaml());

        using var model = new Baseline(cfg, train.NumClasses);
        WeightLoading.LoadInitialWeights(cfg, model, progress);
        model.to(run.Device);
        model.train();
        var (optimizer, groups) = OptimizerBuilder.Build(cfg, model);
        var schedule = LrSchedule.FromConfig(cfg);

        int batchSize = cfg.Int("SOLVER.IMS_PER_BATCH"), maxEpoch = cfg.Int("SOLVER.MAX_EPOCH");
        if (maxEpoch < 1) throw new FastReidException($"SOLVER.MAX_EPOCH must be at least 1 (got {maxEpoch})");
        int itersPerEpoch = Math.Max(1, train.Records.Count / batchSize);
        var sizeTrain = cfg.Ints("INPUT.SIZE_TRAIN");
        var sizeTest = cfg.Ints("INPUT.SIZE_TEST");
        CheckSize(sizeTrain, "INPUT.SIZE_TRAIN");
        CheckSize(sizeTest, "INPUT.SIZE_TEST");
        int workers = Math.Max(1, cfg.Int("DATALOADER.NUM_WORKERS"));
        var batches = cfg.String("DATALOADER.SAMPLER_TRAIN") == "NaiveIdentitySampler"
            ? IdentitySamplers.NaiveIdentity(train.Labels, batchSize, cfg.Int("DATALOADER.NUM_INSTANCE"), run.Seed)
            : IdentitySamplers.Shuffled(train.Records.Count, batchSize, run.Seed);
        var trainDecoder = new ImageDecoder(sizeTrain[0], sizeTrain[1]);
        var testDecoder = sizeTest.SequenceEqual(sizeTrain) ? trainDecoder : new ImageDecoder(sizeTest[0], sizeTest[1]);
        using var loader = new TrainLoader(train.Records, train.Labels, trainDecoder, new Augmenter(cfg), batches, run.Seed, workers);
        var extractor = new FeatureExtractor(model, testDecoder, run.Device, cfg.Int("TEST.IMS_PER_BATCH"), cfg.Bool("TEST.FLIP.ENABLED"), workers);
        var evalOptions = EvaluationOptionsFrom(cfg);

        var freezeLayers = cfg.Strings("MODEL.FREEZE_LAYERS");
        int freezeIters = cfg.Int("SOLVER.FREEZE_ITERS");
        foreach (var name in freezeLayers)
            if (!model.TopLevel().Any(t => t.Name == name))
                throw new FastReidException($"MODEL.FREEZE_LAYERS: the model has no top-level module '{name}' (backbone, heads)");
        bool clip = cfg.Bool("SOLVER.CLIP_GRADIENTS.ENABLED");
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        int evalPeriod = cfg.Int("TEST.EVAL_PERIOD");

        progress.Line($"training {maxEpoch} epochs x {itersPerEpoch} iterations, batch {batchSize}, on {run.Device.type.ToString().ToLowerInvariant()} " +
                      $"with {torch.get_num_threads()} threads, seed {run.Seed}; output in {run.OutputDir}");
        ReidMetrics? final = null, best = null;
        int bestEpoch = 0;
        double bestScore = double.NegativeInfinity;
        long iteration = 0;
        var iterWatch = Stopwatch.StartNew();
        var losses = new Dictionary<string, double>();
        for (int epoch = 0; epoch < maxEpoch; epoch++)
        {
            for (int it = 1; it <= itersPerEpoch; it++)
            {
                var batch = loader.Next();
                bool frozen = freezeLayers.Length > 0 && iteration < freezeIters;
                foreach (var (name, module) in model.TopLevel())
                    module.train(!(frozen && freezeLayers.Contains(name)));
                double factor = schedule.Factor(iteration, epoch);
                int gi = 0;
                foreach (var pg in optimizer.ParamGroups) pg.LearningRate = groups[gi++].BaseLr * factor;

                using (var scope = NewDisposeScope())
                {
                    var images = torch.tensor(batch.Images, [batch.Count, 3, batch.Height, batch.Width]).to(run.Device);
                    var targets = torch.tensor(batch.Labels).to(run.Device);
                    var terms = model.Losses(images, targets);
                    var total = terms.Values.Aggregate((a, b) => a + b);
                    optimizer.zero_grad();
                    total.backward();
                    run.SynchronizeGradients(parameters);
                    if (frozen)
                        foreach (var g in groups.Where(g => g.Freezable))
                            foreach (var p in g.Parameters) p.grad = null; // as FastReID: frozen parameters skip the step entirely
                    if (clip) ClipGradients(cfg, parameters);
                    optimizer.step();
                    foreach (var (k, v) in terms) losses[k] = v.item<float>();
                    if (!double.IsFinite(losses.Values.Sum()))
                        throw new FastReidException($"the loss became {losses.Values.Sum()} at epoch {epoch + 1}, iteration {it}: lower SOLVER.BASE_LR or enable SOLVER.CLIP_GRADIENTS");
                }
                iteration++;
                double perIter = iterWatch.Elapsed.TotalSeconds / iteration;
                var eta = TimeSpan.FromSeconds(perIter * ((long)maxEpoch * itersPerEpoch - iteration));
                progress.Iteration(epoch + 1, maxEpoch, it, itersPerEpoch, losses, groups[0].BaseLr * factor, batchSize / perIter, eta);
                run.Metrics.Iteration(losses.Values.Sum(), groups[0].BaseLr * factor, batchSize / perIter, epoch + 1);
            }

            bool last = epoch + 1 == maxEpoch;
            if (evalPeriod > 0 && ((epoch + 1) % evalPeriod == 0 || last) || last)
            {
                var metrics = Evaluate(extractor, tests, evalOptions, progress, epoch + 1);
                if (metrics is not null)
                {
                    final = metrics;
                    run.Metrics.Evaluated(metrics.MAP);
                    double score = (metrics.MAP + metrics.Rank1) / 2;
                    if (score > bestScore)
                    {
                        bestScore = score;
                        best = metrics;
                        bestEpoch = epoch + 1;
                        ArtefactFiles.WriteAtomic(Path.Combine(run.OutputDir, "model_best.pth"), tmp => WeightLoading.Save(model, tmp));
                    }
                }
            }
        }

        var finalPath = Path.Combine(run.OutputDir, "model_final.pth");
        ArtefactFiles.WriteAtomic(finalPath, tmp => WeightLoading.Save(model, tmp));
        var weightsSha = ArtefactFiles.WeightsSha256(model);
        var outcome = Results.Write(run, cfg, final, best, bestEpoch, weightsSha, maxEpoch, watch.Elapsed, options.ResultFile);
        progress.Line($"done in {ProgressReporter.Format(watch.Elapsed)}; artefacts in {run.OutputDir}");
        run.Dispose();
        return outcome;
    }

    private static void CheckSize(int[] size, string key)
    {
        if (size.Length != 2 || size[0] < 16 || size[1] < 16)
            throw new FastReidException($"{key} must be [height, width] with both at least 16 (got [{string.Join(", ", size)}])");
    }

    private static void ClipGradients(FastReidConfig cfg, List<TorchSharp.Modules.Parameter> parameters)
    {
        double value = cfg.Float("SOLVER.CLIP_GRADIENTS.CLIP_VALUE");
        if (cfg.String("SOLVER.CLIP_GRADIENTS.CLIP_TYPE") == "norm")
            nn.utils.clip_grad_norm_(parameters, value, cfg.Float("SOLVER.CLIP_GRADIENTS.NORM_TYPE"));
        else
            nn.utils.clip_grad_value_(parameters, value);
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
