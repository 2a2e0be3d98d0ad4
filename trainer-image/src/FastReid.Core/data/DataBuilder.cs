using FastReid.Config;
using FastReid.Data.Datasets;

namespace FastReid.Data;

/// <summary>The training images with contiguous class labels, as FastReID's CommonDataset relabels them.</summary>
public sealed record TrainingSet(IReadOnlyList<ImageRecord> Records, int[] Labels, int NumClasses);

/// <summary>
/// The data of a training run: the training set, the sets it is evaluated on (the test sets, or the validation split
/// alone), and the validation split when there is one.
/// </summary>
public sealed record TrainingData(TrainingSet Train, IReadOnlyList<ReidDataset> Evaluation, ValidationSplit? Validation)
{
    /// <summary>What the evaluations are of, as metrics.json and the result say: "validation" or "test".</summary>
    public string EvaluatedOn => Validation is null ? Contracts.RunResult.EvaluatedOnTest : Contracts.RunResult.EvaluatedOnValidation;
}

/// <summary>Builds training and test splits from <c>DATASETS.NAMES</c> and <c>DATASETS.TESTS</c>, and the validation split of <c>DATASETS.VALIDATION</c>.</summary>
public static class DataBuilder
{
    /// <summary>
    /// What a training run reads: with <c>DATASETS.VALIDATION.IDENTITY_FRACTION</c> 0 the training set and the test sets
    /// of <c>DATASETS.TESTS</c>; above 0 the training set less the held-out identities and the validation split made of
    /// them, and the test sets are not read at all (not even listed).
    /// </summary>
    public static TrainingData BuildForTraining(FastReidConfig cfg, string? root = null)
    {
        root ??= DatasetRegistry.Root();
        var records = LoadTrain(cfg, root);
        if (ValidationSplit.FromConfig(cfg, records) is not { } split) return new TrainingData(Relabel(records), BuildTests(cfg, root), null);
        return new TrainingData(Relabel(split.Train), [split.Validation], split);
    }

    private static List<ImageRecord> LoadTrain(FastReidConfig cfg, string root)
    {
        var records = new List<ImageRecord>();
        foreach (var name in cfg.Strings("DATASETS.NAMES"))
        {
            var ds = DatasetRegistry.Load(name, root, withTest: false);
            if (ds.Train.Count == 0) throw new FastReidException($"{name}: the training split is empty");
            records.AddRange(ds.Train);
        }
        if (records.Count == 0) throw new FastReidException("DATASETS.NAMES is empty: name at least one training dataset");
        return records;
    }

    private static TrainingSet Relabel(IReadOnlyList<ImageRecord> records)
    {
        // identities of different datasets are different people (FastReID prefixes them with the dataset name)
        var classes = records.Select(r => (r.Dataset, r.Pid)).Distinct().Order().Select((k, i) => (k, i)).ToDictionary(t => t.k, t => t.i);
        var labels = records.Select(r => classes[(r.Dataset, r.Pid)]).ToArray();
        return new TrainingSet(records, labels, classes.Count);
    }

    public static IReadOnlyList<ReidDataset> BuildTests(FastReidConfig cfg, string? root = null)
    {
        root ??= DatasetRegistry.Root();
        var tests = new List<ReidDataset>();
        foreach (var name in cfg.Strings("DATASETS.TESTS"))
        {
            var ds = DatasetRegistry.Load(name, root);
            if (ds.Query.Count == 0) throw new FastReidException($"{name}: the query split is empty");
            if (ds.Gallery.Count == 0) throw new FastReidException($"{name}: the gallery split is empty");
            tests.Add(ds);
        }
        return tests;
    }
}
