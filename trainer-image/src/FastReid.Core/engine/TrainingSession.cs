using FastReid.Config;
using FastReid.Data;
using FastReid.Data.Datasets;
using FastReid.Data.Samplers;
using FastReid.Data.Transforms;
using FastReid.Evaluation;
using FastReid.Modeling.MetaArch;
using FastReid.Solver;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Everything a training run is built from a config: data, model (with initial weights), optimizer,
/// schedule, loader, step and feature extractor. The trainer and the benchmark share it.
/// </summary>
public sealed class TrainingSession : IDisposable
{
    public FastReidConfig Config { get; }
    public RunContext Run { get; }
    public TrainingSet Train { get; }
    /// <summary>What the run is evaluated on: the test sets of DATASETS.TESTS, or the validation split alone.</summary>
    public IReadOnlyList<ReidDataset> EvaluationSets { get; }
    /// <summary>The held-out identities when DATASETS.VALIDATION.IDENTITY_FRACTION is above 0 (then no test set is read).</summary>
    public ValidationSplit? Validation { get; }
    /// <summary>"validation" or "test": what the metrics are of.</summary>
    public string EvaluatedOn { get; }
    public MetaArch Model { get; }
    public TorchSharp.Modules.OptimizerHelper Optimizer { get; }
    public IReadOnlyList<ParameterGroup> Groups { get; }
    public LrSchedule Schedule { get; }
    public TrainStep Step { get; }
    public FeatureExtractor Extractor { get; }
    public EvaluationOptions EvaluationOptions { get; }
    public int BatchSize { get; }
    /// <summary>How long the run trains (SOLVER.MAX_EPOCH epochs).</summary>
    public TrainingBudget Budget { get; }
    public int ItersPerEpoch { get; }
    public ImageDecoder TrainDecoder { get; }
    private readonly Augmenter _augmenter;
    private readonly int _workers;

    public TrainingSession(FastReidConfig cfg, RunContext run)
    {
        Config = cfg;
        Run = run;
        var datasets = DatasetRegistry.Root(run.Progress.Line);
        var data = DataBuilder.BuildForTraining(cfg, datasets);
        (Train, EvaluationSets, Validation, EvaluatedOn) = (data.Train, data.Evaluation, data.Validation, data.EvaluatedOn);
        if (Validation is not null) CheckSameHeldOutOnEveryRank(Validation, run.Collectives);
        int numClasses = cfg.Int("MODEL.HEADS.NUM_CLASSES");
        if (numClasses == 0) cfg.SetValue("MODEL.HEADS.NUM_CLASSES", (long)Train.NumClasses);
        else if (numClasses != Train.NumClasses)
            throw new FastReidException($"MODEL.HEADS.NUM_CLASSES is {numClasses} but the training set has {Train.NumClasses} identities (set 0 to use the data)");

        BatchSize = cfg.Int("SOLVER.IMS_PER_BATCH");
        Budget = TrainingBudget.FromConfig(cfg);
        ItersPerEpoch = Math.Max(1, Train.Records.Count / BatchSize);
        // the config's own limits (ConfigSchema) and ConfigPreflight.ForTraining (RunContext) hold for batch, sizes and ranks
        var sizeTrain = cfg.Ints("INPUT.SIZE_TRAIN");
        var sizeTest = cfg.Ints("INPUT.SIZE_TEST");
        _workers = Math.Max(1, cfg.Int("DATALOADER.NUM_WORKERS"));
        _augmenter = new Augmenter(cfg);
        TrainDecoder = new ImageDecoder(sizeTrain[0], sizeTrain[1]);
        var testDecoder = sizeTest.SequenceEqual(sizeTrain) ? TrainDecoder : new ImageDecoder(sizeTest[0], sizeTest[1]);

        Model = MetaArchRegistry.Build(cfg, Train.NumClasses, run.Progress.Line);
        WeightLoading.LoadInitialWeights(cfg, Model, run.Progress);
        Model.to(run.Device);
        Distributed.DistributedState.BroadcastFromRankZero(Model, run.Collectives);
        Distributed.DistributedModel.Attach(Model, run.Collectives);
        Model.train();
        (Optimizer, Groups) = OptimizerBuilder.Build(cfg, Model);
        Schedule = LrSchedule.FromConfig(cfg);
        Step = new TrainStep(cfg, Model, Optimizer, Groups, Schedule, run);
        Extractor = new FeatureExtractor(Model, testDecoder, run.Device, cfg.Int("TEST.IMS_PER_BATCH"), cfg.Bool("TEST.FLIP.ENABLED"), _workers);
        EvaluationOptions = DefaultTrainer.EvaluationOptionsFrom(cfg);
    }

    /// <summary>A loader positioned after <paramref name="skipBatches"/> batches of this run's sampler stream.</summary>
    public TrainLoader CreateLoader(long skipBatches = 0)
    {
        var cfg = Config;
        var batches = cfg.String("DATALOADER.SAMPLER_TRAIN") == "NaiveIdentitySampler"
            ? IdentitySamplers.NaiveIdentity(Train.Labels, BatchSize, cfg.Int("DATALOADER.NUM_INSTANCE"), Run.Seed)
            : IdentitySamplers.Shuffled(Train.Records.Count, BatchSize, Run.Seed);
        return new TrainLoader(Train.Records, Train.Labels, TrainDecoder, _augmenter, batches, Run.Seed, _workers, skipBatches: skipBatches,
            rank: Run.Collectives.Rank, worldSize: Run.Collectives.WorldSize);
    }

    /// <summary>
    /// Every rank computes the split from its own copy of the data (one per node); a rank that held out other
    /// identities (a node whose dataset differs) would train and evaluate on another split, so all ranks stop.
    /// </summary>
    private static void CheckSameHeldOutOnEveryRank(ValidationSplit split, Distributed.ICollectives group)
    {
        if (group.WorldSize == 1) return;
        var digests = group.AllGatherBytes(System.Text.Encoding.UTF8.GetBytes(split.Digest())).Select(System.Text.Encoding.UTF8.GetString).ToArray();
        var differing = Enumerable.Range(1, digests.Length - 1).Where(r => digests[r] != digests[0]).ToList();
        if (differing.Count > 0)
            throw new FastReidException($"rank(s) {string.Join(", ", differing)} held out other validation identities than rank 0 " +
                $"({ValidationSplit.FractionKey}, {ValidationSplit.SeedKey}): every rank must read the same training set and the same config");
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
    }
}
