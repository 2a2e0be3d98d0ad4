using FastReid.Config;
using FastReid.Data.Datasets;

namespace FastReid.Data;

/// <summary>The training images with contiguous class labels, as FastReID's CommonDataset relabels them.</summary>
public sealed record TrainingSet(IReadOnlyList<ImageRecord> Records, int[] Labels, int NumClasses);

/// <summary>Builds training and test splits from <c>DATASETS.NAMES</c> and <c>DATASETS.TESTS</c>.</summary>
public static class DataBuilder
{
    public static TrainingSet BuildTrain(FastReidConfig cfg, string? root = null)
    {
        root ??= DatasetRegistry.Root();
        var records = new List<ImageRecord>();
        foreach (var name in cfg.Strings("DATASETS.NAMES"))
        {
            var ds = DatasetRegistry.Load(name, root);
            if (ds.Train.Count == 0) throw new FastReidException($"{name}: the training split is empty");
            records.AddRange(ds.Train);
        }
        if (records.Count == 0) throw new FastReidException("DATASETS.NAMES is empty: name at least one training dataset");
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
