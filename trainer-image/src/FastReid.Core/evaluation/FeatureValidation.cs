namespace FastReid.Evaluation;

/// <summary>Checks a <see cref="FeatureSet"/> and the options, naming the set and the array that is wrong.</summary>
public static class FeatureValidation
{
    /// <param name="setName">how messages name the set: "query", "gallery", or a file name.</param>
    public static void Check(FeatureSet set, string setName)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (set.Features is null || set.Pids is null || set.CamIds is null)
            throw new FastReidException($"{setName}: features, pids and camids are all required");
        if (set.Count < 0 || set.Dim <= 0)
            throw new FastReidException($"{setName}: features must be [N, D] with D > 0 (got N = {set.Count}, D = {set.Dim})");
        if ((long)set.Count * set.Dim != set.Features.Length)
            throw new FastReidException(
                $"{setName}: features hold {set.Features.Length} values, expected N × D = {set.Count} × {set.Dim}");
        if (set.Pids.Length != set.Count)
            throw new FastReidException($"{setName}: pids has {set.Pids.Length} entries but features has {set.Count} rows");
        if (set.CamIds.Length != set.Count)
            throw new FastReidException($"{setName}: camids has {set.CamIds.Length} entries but features has {set.Count} rows");
        var features = set.Features;
        for (int i = 0; i < features.Length; i++)
        {
            if (!float.IsFinite(features[i]))
                throw new FastReidException(
                    $"{setName}: features contain {(float.IsNaN(features[i]) ? "NaN" : "Inf")} at row {i / set.Dim}, column {i % set.Dim}");
        }
    }

    public static void CheckPair(FeatureSet query, FeatureSet gallery, string queryName = "query", string galleryName = "gallery")
    {
        Check(query, queryName);
        Check(gallery, galleryName);
        if (query.Count == 0) throw new FastReidException($"{queryName}: the query set is empty");
        if (gallery.Count == 0) throw new FastReidException($"{galleryName}: the gallery is empty");
        if (query.Dim != gallery.Dim)
            throw new FastReidException(
                $"feature dimensions differ: {queryName} features are [{query.Count}, {query.Dim}], {galleryName} features are [{gallery.Count}, {gallery.Dim}]");
    }

    public static void Check(EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Metric is not ("cosine" or "euclidean"))
            throw new FastReidException($"metric '{options.Metric}' is not supported; use cosine or euclidean");
        if (options.Rerank)
        {
            if (options.K1 < 1) throw new FastReidException($"re-ranking k1 must be >= 1 (got {options.K1})");
            if (options.K2 < 1) throw new FastReidException($"re-ranking k2 must be >= 1 (got {options.K2})");
            if (!(options.Lambda >= 0 && options.Lambda <= 1))
                throw new FastReidException($"re-ranking lambda must be in [0, 1] (got {options.Lambda})");
        }
        if (options.Aqe)
        {
            if (options.QeTimes < 0) throw new FastReidException($"query expansion times must be >= 0 (got {options.QeTimes})");
            if (options.QeK < 1) throw new FastReidException($"query expansion k must be >= 1 (got {options.QeK})");
            if (!double.IsFinite(options.Alpha)) throw new FastReidException($"query expansion alpha must be finite (got {options.Alpha})");
        }
        if (options.MemoryBudgetBytes < (1L << 20))
            throw new FastReidException($"memory budget must be at least 1 MiB (got {options.MemoryBudgetBytes} bytes)");
    }
}
