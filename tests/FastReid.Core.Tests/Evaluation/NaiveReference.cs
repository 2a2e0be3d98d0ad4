using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

/// <summary>
/// An independent, deliberately plain transcription of FastReID's evaluation (reid_evaluation.py,
/// rank.py eval_market1501, roc.py + sklearn roc_curve, query_expansion.py aqe,
/// compute_dist.py compute_jaccard_distance): full matrices, float64, full stable sorts. Slow and
/// memory-hungry by design; it shares no code with the engine.
/// </summary>
internal static class NaiveReference
{
    public static ReidMetrics Evaluate(FeatureSet query, FeatureSet gallery, EvaluationOptions o)
    {
        bool cosine = o.Metric == "cosine";
        var qf = Rows(query);
        var gf = Rows(gallery);
        if (o.Aqe) (qf, gf) = Aqe(qf, gf, o.QeTimes, o.QeK, o.Alpha);
        var dist = Distances(qf, gf, cosine);
        if (o.Rerank)
        {
            var all = (cosine ? qf.Select(Normalize) : qf).Concat(cosine ? gf.Select(Normalize) : gf).ToArray();
            var jaccard = Jaccard(all, o.K1, o.K2);
            for (int i = 0; i < qf.Length; i++)
                for (int j = 0; j < gf.Length; j++)
                    dist[i][j] = jaccard[i][qf.Length + j] * (1 - o.Lambda) + dist[i][j] * o.Lambda;
        }
        var (cmc, aps, inps) = EvalMarket1501(dist, query.Pids, gallery.Pids, query.CamIds, gallery.CamIds, 50);
        IReadOnlyDictionary<string, double>? roc = o.Roc ? Roc(dist, query.Pids, gallery.Pids, query.CamIds, gallery.CamIds) : null;
        return new ReidMetrics(aps.Average(), cmc[0], cmc[4], cmc[9], inps.Average(), roc);
    }

    private static double[][] Rows(FeatureSet set) =>
        Enumerable.Range(0, set.Count).Select(i => set.Features.Skip(i * set.Dim).Take(set.Dim).Select(v => (double)v).ToArray()).ToArray();

    private static double[] Normalize(double[] x)
    {
        double n = Math.Max(Math.Sqrt(x.Sum(v => v * v)), 1e-12);
        return x.Select(v => v / n).ToArray();
    }

    private static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }
    private static double Sq(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += (a[i] - b[i]) * (a[i] - b[i]); return s; }

    private static double[][] Distances(double[][] q, double[][] g, bool cosine)
    {
        if (cosine)
        {
            var qn = q.Select(Normalize).ToArray();
            var gn = g.Select(Normalize).ToArray();
            return qn.Select(a => gn.Select(b => 1 - Dot(a, b)).ToArray()).ToArray();
        }
        return q.Select(a => g.Select(b => Sq(a, b)).ToArray()).ToArray();
    }

    private static int[] ArgsortStable(double[] row) =>
        Enumerable.Range(0, row.Length).OrderBy(i => row[i]).ToArray(); // LINQ OrderBy is stable

    public static (double[] Cmc, List<double> Aps, List<double> Inps) EvalMarket1501(double[][] dist,
        long[] qPids, long[] gPids, long[] qCams, long[] gCams, int maxRank)
    {
        var allCmc = new List<double[]>();
        var aps = new List<double>();
        var inps = new List<double>();
        for (int q = 0; q < dist.Length; q++)
        {
            var order = ArgsortStable(dist[q]);
            var raw = order.Where(g => !(gPids[g] == qPids[q] && gCams[g] == qCams[q]))
                .Select(g => gPids[g] == qPids[q] ? 1 : 0).ToArray();
            if (!raw.Any(v => v == 1)) continue;
            var cmc = new double[raw.Length];
            double acc = 0;
            for (int i = 0; i < raw.Length; i++) cmc[i] = acc += raw[i];
            int maxPos = Array.LastIndexOf(raw, 1);
            inps.Add(cmc[maxPos] / (maxPos + 1.0));
            var clipped = new double[maxRank];
            for (int i = 0; i < maxRank; i++) clipped[i] = Math.Min(1, cmc[Math.Min(i, cmc.Length - 1)]);
            allCmc.Add(clipped);
            double numRel = raw.Sum();
            double tmp = 0;
            for (int i = 0; i < raw.Length; i++) tmp += cmc[i] / (i + 1.0) * raw[i];
            aps.Add(tmp / numRel);
        }
        var mean = Enumerable.Range(0, maxRank).Select(r => allCmc.Average(c => c[r])).ToArray();
        return (mean, aps, inps);
    }

    /// <summary>evaluate_roc + sklearn.metrics.roc_curve(drop_intermediate=True) + argmin |fpr − target|.</summary>
    public static IReadOnlyDictionary<string, double> Roc(double[][] dist, long[] qPids, long[] gPids, long[] qCams, long[] gCams)
    {
        var pos = new List<double>();
        var neg = new List<double>();
        for (int q = 0; q < dist.Length; q++)
            foreach (int g in ArgsortStable(dist[q]))
            {
                if (gPids[g] == qPids[q] && gCams[g] == qCams[q]) continue;
                (gPids[g] == qPids[q] ? pos : neg).Add(dist[q][g]);
            }
        return RocFromScores(pos, neg);
    }

    public static IReadOnlyDictionary<string, double> RocFromScores(List<double> pos, List<double> neg)
    {
        var scores = pos.Concat(neg).ToArray();
        var labels = pos.Select(_ => 0).Concat(neg.Select(_ => 1)).ToArray();
        // _binary_clf_curve: scores descending
        var desc = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).Reverse().ToArray();
        var ys = desc.Select(i => scores[i]).ToArray();
        var yt = desc.Select(i => labels[i]).ToArray();
        var thresholdIdx = new List<int>();
        for (int i = 0; i + 1 < ys.Length; i++) if (ys[i + 1] != ys[i]) thresholdIdx.Add(i);
        thresholdIdx.Add(ys.Length - 1);
        var cum = new long[yt.Length];
        long c = 0;
        for (int i = 0; i < yt.Length; i++) cum[i] = c += yt[i];
        var tps = thresholdIdx.Select(i => cum[i]).ToList();
        var fps = thresholdIdx.Select(i => 1 + i - cum[i]).ToList();
        if (fps.Count > 2)
        {
            var keep = new List<int> { 0 };
            for (int i = 1; i + 1 < fps.Count; i++)
            {
                long d2f = fps[i + 1] - 2 * fps[i] + fps[i - 1];
                long d2t = tps[i + 1] - 2 * tps[i] + tps[i - 1];
                if (d2f != 0 || d2t != 0) keep.Add(i);
            }
            keep.Add(fps.Count - 1);
            fps = keep.Select(i => fps[i]).ToList();
            tps = keep.Select(i => tps[i]).ToList();
        }
        fps.Insert(0, 0);
        tps.Insert(0, 0);
        var fpr = fps.Select(v => v / (double)fps[^1]).ToArray();
        var tpr = tps.Select(v => v / (double)tps[^1]).ToArray();
        var result = new Dictionary<string, double>();
        foreach (var (key, target) in new[] { ("1e-04", 1e-4), ("1e-03", 1e-3), ("1e-02", 1e-2) })
        {
            int best = 0;
            for (int i = 1; i < fpr.Length; i++) if (Math.Abs(fpr[i] - target) < Math.Abs(fpr[best] - target)) best = i;
            result[key] = tpr[best];
        }
        return result;
    }

    public static (double[][] Query, double[][] Gallery) Aqe(double[][] q, double[][] g, int times, int k, double alpha)
    {
        var all = q.Concat(g).ToArray();
        var norm = all.Select(Normalize).ToArray();
        for (int t = 0; t < times; t++)
        {
            var next = new double[all.Length][];
            for (int i = 0; i < all.Length; i++)
            {
                var sims = norm.Select(other => Dot(norm[i], other)).ToArray();
                var top = Enumerable.Range(0, all.Length).OrderByDescending(j => sims[j]).Take(k).ToArray();
                var mean = new double[all[i].Length];
                foreach (int j in top)
                {
                    double w = Math.Pow(sims[j], alpha);
                    for (int d = 0; d < mean.Length; d++) mean[d] += all[j][d] * w / top.Length;
                }
                next[i] = mean;
            }
            all = next;
            norm = all.Select(Normalize).ToArray();
        }
        return (all.Take(q.Length).ToArray(), all.Skip(q.Length).ToArray());
    }

    private static int[] KReciprocal(int[][] rank, int i, int k)
    {
        var forward = rank[i].Take(k + 1).ToArray();
        return forward.Where(f => rank[f].Take(k + 1).Contains(i)).ToArray();
    }

    /// <summary>compute_jaccard_distance over all N features (dense N×N, as FastReID).</summary>
    public static double[][] Jaccard(double[][] features, int k1, int k2)
    {
        int n = features.Length;
        var rank = Enumerable.Range(0, n)
            .Select(i => Enumerable.Range(0, n).OrderBy(j => Sq(features[i], features[j])).Take(k1).ToArray()).ToArray();
        var nnK1 = Enumerable.Range(0, n).Select(i => KReciprocal(rank, i, k1)).ToArray();
        var nnHalf = Enumerable.Range(0, n).Select(i => KReciprocal(rank, i, (int)Math.Round(k1 / 2.0, MidpointRounding.ToEven))).ToArray();
        var v = new double[n][];
        for (int i = 0; i < n; i++)
        {
            v[i] = new double[n];
            var expansion = nnK1[i].ToList();
            foreach (int candidate in nnK1[i])
            {
                var cand = nnHalf[candidate];
                if (cand.Distinct().Intersect(nnK1[i]).Count() > 2.0 / 3.0 * cand.Length) expansion.AddRange(cand);
            }
            var unique = expansion.Distinct().OrderBy(x => x).ToArray();
            var e = unique.Select(j => Math.Exp(-Sq(features[i], features[j]))).ToArray();
            double sum = e.Sum();
            for (int j = 0; j < unique.Length; j++) v[i][unique[j]] = e[j] / sum;
        }
        if (k2 != 1)
        {
            var qe = new double[n][];
            for (int i = 0; i < n; i++)
            {
                var rows = rank[i].Take(k2).ToArray();
                qe[i] = Enumerable.Range(0, n).Select(c => rows.Average(r => v[r][c])).ToArray();
            }
            v = qe;
        }
        var inv = Enumerable.Range(0, n).Select(c => Enumerable.Range(0, n).Where(r => v[r][c] != 0).ToArray()).ToArray();
        var jac = new double[n][];
        for (int i = 0; i < n; i++)
        {
            var tempMin = new double[n];
            foreach (int c in Enumerable.Range(0, n).Where(c => v[i][c] != 0))
                foreach (int r in inv[c]) tempMin[r] += Math.Min(v[i][c], v[r][c]);
            jac[i] = tempMin.Select(t => Math.Max(0, 1 - t / (2 - t))).ToArray();
        }
        return jac;
    }
}
