namespace FastReid.Evaluation;

/// <summary>
/// FastReID's ReidEvaluator: optional α-weighted query expansion, cosine or euclidean distance,
/// optional k-reciprocal re-ranking, then eval_market1501 (CMC, mAP, mINP) and optionally
/// evaluate_roc (TPR@FPR). Distances are produced in query blocks sized from the memory budget and
/// each query is ranked as soon as its block is ready; no Q×G matrix is ever held.
/// Means are over valid queries, as FastReID's Python eval_market1501 (its Cython variant averages
/// skipped queries in as zeros). Ranking is by float64 distance, ties by gallery index (a stable argsort).
/// </summary>
public static class ReidEvaluator
{
    public static ReidMetrics Evaluate(FeatureSet query, FeatureSet gallery, EvaluationOptions options) =>
        Evaluate(query, gallery, options, RowProducts.Default);

    /// <summary>As <see cref="Evaluate(FeatureSet, FeatureSet, EvaluationOptions)"/> with the given products (tests pin libtorch).</summary>
    internal static ReidMetrics Evaluate(FeatureSet query, FeatureSet gallery, EvaluationOptions options, RowProducts products)
    {
        FeatureValidation.Check(options);
        FeatureValidation.CheckPair(query, gallery);
        bool cosine = options.Metric == "cosine";
        if (options.Aqe && options.QeTimes > 0)
            (query, gallery) = QueryExpansion.Apply(query, gallery, options.QeTimes, options.QeK, options.Alpha, products, options.MemoryBudgetBytes);

        var metric = new MetricDistance(query, gallery, cosine, products);
        var jaccard = options.Rerank
            ? KReciprocalJaccard.Build(query, gallery, cosine, options.K1, options.K2, products, options.MemoryBudgetBytes)
            : null;
        var distance = new RankingDistance(metric, jaccard, options.Lambda);
        var matches = FindMatches(query, gallery, distance);
        int valid = matches.Count(m => m is not null);
        if (valid == 0)
            throw new FastReidException(
                "no valid query: no query pid appears in the gallery under another camera (same pid and same camid are excluded)");

        var pass = new BlockPass(query, gallery, distance, matches, products, options.MemoryBudgetBytes);
        RocCurve? roc = null;
        double[]? positives = null;
        long negatives = 0;
        if (options.Roc)
        {
            positives = matches.Where(m => m is not null).SelectMany(m => m!.Value.Distances).ToArray();
            Array.Sort(positives);
            Array.Reverse(positives);
            negatives = CountNegatives(query, gallery);
            roc = RocCurve.ForRegion(positives, negatives, margin: 64);
        }
        var outcomes = pass.Run(rank: true, roc, out var gaps, out var ties);

        IReadOnlyDictionary<string, double>? tpr = null;
        for (long margin = 64; roc is not null; margin *= 8)
        {
            tpr = roc.Resolve(gaps!, ties!);
            if (tpr is not null) break;
            roc = RocCurve.ForRegion(positives!, negatives, margin * 8);
            pass.Run(rank: false, roc, out gaps, out ties);
        }

        double apSum = 0, inpSum = 0;
        int top1 = 0, top5 = 0, top10 = 0;
        foreach (var outcome in outcomes)
        {
            if (outcome is not { } o) continue;
            apSum += o.AveragePrecision;
            inpSum += o.InversePenalty;
            if (o.FirstMatchRank <= 1) top1++;
            if (o.FirstMatchRank <= 5) top5++;
            if (o.FirstMatchRank <= 10) top10++;
        }
        return new ReidMetrics(apSum / valid, top1 / (double)valid, top5 / (double)valid, top10 / (double)valid,
            inpSum / valid, tpr);
    }

    /// <summary>Per query: the gallery entries with its pid from another camera, ascending by (exact distance, index).</summary>
    private static (double[] Distances, int[] Indices)?[] FindMatches(FeatureSet query, FeatureSet gallery, RankingDistance distance)
    {
        var byPid = new Dictionary<long, List<int>>();
        for (int g = 0; g < gallery.Count; g++)
        {
            if (!byPid.TryGetValue(gallery.Pids[g], out var list)) byPid[gallery.Pids[g]] = list = [];
            list.Add(g);
        }
        var result = new (double[], int[])?[query.Count];
        Parallel.For(0, query.Count, q =>
        {
            if (!byPid.TryGetValue(query.Pids[q], out var sameId)) return;
            var indices = sameId.Where(g => gallery.CamIds[g] != query.CamIds[q]).ToArray();
            if (indices.Length == 0) return;
            var distances = indices.Select(g => distance.Exact(q, g)).ToArray();
            var order = Enumerable.Range(0, indices.Length)
                .OrderBy(i => distances[i]).ThenBy(i => indices[i]).ToArray();
            result[q] = (order.Select(i => distances[i]).ToArray(), order.Select(i => indices[i]).ToArray());
        });
        return result;
    }

    private static long CountNegatives(FeatureSet query, FeatureSet gallery)
    {
        var perPid = gallery.Pids.GroupBy(p => p).ToDictionary(g => g.Key, g => (long)g.Count());
        long total = 0;
        foreach (var pid in query.Pids) total += gallery.Count - perPid.GetValueOrDefault(pid);
        return total;
    }

    /// <summary>
    /// One sweep over query blocks: rank each valid query and/or count its non-matches for ROC. Each worker
    /// computes a block of query rows and scans it before taking the next, so product and scan never wait
    /// on each other and the block is still in cache when scanned.
    /// </summary>
    private sealed class BlockPass(FeatureSet query, FeatureSet gallery, RankingDistance distance,
        (double[] Distances, int[] Indices)?[] matches, RowProducts products, long budgetBytes)
    {
        /// <summary>Rows per block: past ~256 rows a product gains nothing, and the blocks share half the budget.</summary>
        private const int MaxBlockRows = 256;

        public QueryOutcome?[] Run(bool rank, RocCurve? roc, out long[]? gaps, out long[]? ties)
        {
            int g = gallery.Count, workers = products.Workers;
            int blockRows = (int)Math.Clamp(budgetBytes / 2 / (4L * g * workers), 1, Math.Min(MaxBlockRows, int.MaxValue / g));
            var buffers = new float[]?[workers];
            var outcomes = new QueryOutcome?[query.Count];
            var localGaps = new long[]?[workers];
            var localTies = new long[]?[workers];
            products.ForEachChunk(query.Count, blockRows, (start, rows, worker) =>
            {
                var buffer = buffers[worker] ??= new float[(long)blockRows * g];
                distance.ComputeBlock(start, rows, buffer);
                if (roc is not null)
                {
                    localGaps[worker] ??= new long[roc.Bins];
                    localTies[worker] ??= new long[roc.Bins];
                }
                for (int r = 0; r < rows; r++)
                {
                    int q = start + r;
                    var row = new ReadOnlySpan<float>(buffer, r * g, g);
                    if (rank && matches[q] is { } m)
                        outcomes[q] = QueryRanking.Rank(row, gallery.Pids, query.Pids[q], m.Distances, m.Indices,
                            distance.ErrorBound(q), gi => distance.Exact(q, gi));
                    roc?.CountNegatives(row, gallery.Pids, query.Pids[q], localGaps[worker]!, localTies[worker]!);
                }
            });
            gaps = roc is null ? null : Sum(localGaps, roc.Bins);
            ties = roc is null ? null : Sum(localTies, roc.Bins);
            return outcomes;
        }

        private static long[] Sum(long[]?[] perWorker, int bins)
        {
            var total = new long[bins];
            foreach (var counts in perWorker)
                if (counts is not null)
                    for (int i = 0; i < bins; i++) total[i] += counts[i];
            return total;
        }
    }
}
