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
    public static ReidMetrics Evaluate(FeatureSet query, FeatureSet gallery, EvaluationOptions options)
    {
        FeatureValidation.Check(options);
        FeatureValidation.CheckPair(query, gallery);
        bool cosine = options.Metric == "cosine";
        if (options.Aqe && options.QeTimes > 0)
            (query, gallery) = QueryExpansion.Apply(query, gallery, options.QeTimes, options.QeK, options.Alpha, options.MemoryBudgetBytes);

        using var metric = new MetricDistance(query, gallery, cosine);
        var jaccard = options.Rerank
            ? KReciprocalJaccard.Build(query, gallery, cosine, options.K1, options.K2, options.MemoryBudgetBytes)
            : null;
        var distance = new RankingDistance(metric, jaccard, options.Lambda);
        var matches = FindMatches(query, gallery, distance);
        int valid = matches.Count(m => m is not null);
        if (valid == 0)
            throw new FastReidException(
                "no valid query: no query pid appears in the gallery under another camera (same pid and same camid are excluded)");

        var pass = new BlockPass(query, gallery, distance, matches, options.MemoryBudgetBytes);
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

    /// <summary>One sweep over query blocks: rank each valid query and/or count its non-matches for ROC.</summary>
    private sealed class BlockPass(FeatureSet query, FeatureSet gallery, RankingDistance distance,
        (double[] Distances, int[] Indices)?[] matches, long budgetBytes)
    {
        public QueryOutcome?[] Run(bool rank, RocCurve? roc, out long[]? gaps, out long[]? ties)
        {
            int g = gallery.Count;
            // Half the budget for the float32 block; the rest covers per-thread scratch and the ranking state.
            int blockRows = (int)Math.Clamp(budgetBytes / 2 / (4L * g), 1, Math.Min(Math.Min(query.Count, 2048), int.MaxValue / 2 / g));
            var buffer = new float[(long)blockRows * g];
            var outcomes = new QueryOutcome?[query.Count];
            long[]? totalGaps = roc is null ? null : new long[roc.Bins];
            long[]? totalTies = roc is null ? null : new long[roc.Bins];
            var sync = new object();
            for (int start = 0; start < query.Count; start += blockRows)
            {
                int rows = Math.Min(blockRows, query.Count - start);
                distance.ComputeBlock(start, rows, buffer);
                int blockStart = start;
                Parallel.For(0, rows,
                    () => roc is null ? (Gaps: Array.Empty<long>(), Ties: Array.Empty<long>()) : (Gaps: new long[roc.Bins], Ties: new long[roc.Bins]),
                    (r, _, local) =>
                    {
                        int q = blockStart + r;
                        var row = new ReadOnlySpan<float>(buffer, r * g, g);
                        if (rank && matches[q] is { } m)
                            outcomes[q] = QueryRanking.Rank(row, gallery.Pids, query.Pids[q], m.Distances, m.Indices,
                                distance.ErrorBound(q), gi => distance.Exact(q, gi));
                        roc?.CountNegatives(row, gallery.Pids, query.Pids[q], local.Gaps, local.Ties);
                        return local;
                    },
                    local =>
                    {
                        if (roc is null) return;
                        lock (sync)
                        {
                            for (int i = 0; i < local.Gaps.Length; i++)
                            {
                                totalGaps![i] += local.Gaps[i];
                                totalTies![i] += local.Ties[i];
                            }
                        }
                    });
            }
            gaps = totalGaps;
            ties = totalTies;
            return outcomes;
        }
    }
}
