namespace FastReid.Evaluation;

/// <summary>
/// TPR@FPR exactly as FastReID's evaluate_roc + sklearn roc_curve + argmin|fpr − target| compute it,
/// without holding the Q×G scores. FastReID labels matches 0 and non-matches 1 and scores them by
/// distance, so in its curve "FPR" is the fraction of matches and "TPR" the fraction of non-matches
/// whose distance is at or above a threshold. Only the largest match distances matter for targets up to
/// 1e-2, so the match distances (few) are kept and sorted, and the non-matches (Q×G) are only counted
/// between consecutive distinct match distances of that top region. The curve's dropped collinear
/// points (drop_intermediate) are reproduced from those counts.
/// </summary>
internal sealed class RocCurve
{
    public static readonly (string Key, double Fpr)[] Targets = [("1e-04", 1e-4), ("1e-03", 1e-3), ("1e-02", 1e-2)];

    private readonly double[] _thresholds; // distinct match distances of the region, descending
    private readonly long[] _counts;       // matches at each threshold
    private readonly long _positives;
    private readonly long _negatives;
    private readonly bool _coversAll;

    private RocCurve(double[] thresholds, long[] counts, long positives, long negatives, bool coversAll)
    {
        _thresholds = thresholds;
        _counts = counts;
        _positives = positives;
        _negatives = negatives;
        _coversAll = coversAll;
        BuildGrid();
    }

    public int Bins => _thresholds.Length;

    /// <param name="sortedPositives">all match distances, descending.</param>
    /// <param name="negatives">number of (query, non-match) pairs.</param>
    /// <param name="margin">how many matches past the largest target the region covers.</param>
    public static RocCurve ForRegion(double[] sortedPositives, long negatives, long margin)
    {
        long p = sortedPositives.Length;
        long wanted = Math.Min(p, (long)Math.Ceiling(Targets.Max(t => t.Fpr) * p) + margin);
        var thresholds = new List<double>();
        var counts = new List<long>();
        long covered = 0;
        int i = 0;
        while (i < sortedPositives.Length && covered < wanted)
        {
            double v = sortedPositives[i];
            int j = i;
            while (j < sortedPositives.Length && sortedPositives[j] == v) j++;
            thresholds.Add(v);
            counts.Add(j - i);
            covered += j - i;
            i = j;
        }
        return new RocCurve([.. thresholds], [.. counts], p, negatives, i == sortedPositives.Length);
    }

    /// <summary>Adds one query's non-matches to gaps (strictly between thresholds) and ties (equal to one).</summary>
    public void CountNegatives(ReadOnlySpan<float> distances, long[] galleryPids, long queryPid, long[] gaps, long[] ties)
    {
        double floor = _thresholds[^1], top = _thresholds[0];
        for (int g = 0; g < distances.Length; g++)
        {
            double d = distances[g];
            if (d < floor || galleryPids[g] == queryPid) continue;
            if (d > top) { gaps[0]++; continue; }
            // A uniform grid over [floor, top] narrows the search to the thresholds of one cell.
            // The neighbouring cells are included so that rounding in the cell index cannot miss the answer.
            int cell = Math.Min(_cellFirst.Length - 2, (int)((top - d) * _cellScale));
            int above = _cellFirst[Math.Max(cell - 1, 0)]; // thresholds > d: the answer lies in [above, right]
            int right = Math.Min(_cellFirst[Math.Min(cell + 2, _cellFirst.Length - 1)] + 1, _thresholds.Length);
            while (above < right)
            {
                int mid = (above + right) >>> 1;
                if (_thresholds[mid] > d) above = mid + 1; else right = mid;
            }
            if (above < _thresholds.Length && _thresholds[above] == d) ties[above]++;
            else gaps[above]++;
        }
    }

    private int[] _cellFirst = [];
    private double _cellScale;

    /// <summary>cellFirst[c] = thresholds above cell c's upper edge (top − c / scale).</summary>
    private void BuildGrid()
    {
        int cells = Math.Max(1, _thresholds.Length * 4);
        double span = _thresholds[0] - _thresholds[^1];
        _cellScale = span > 0 ? cells / span : 0;
        _cellFirst = new int[cells + 1];
        int index = 0;
        for (int c = 0; c <= cells; c++)
        {
            double edge = _thresholds[0] - (span > 0 ? c / _cellScale : 0);
            while (index < _thresholds.Length && _thresholds[index] > edge) index++;
            _cellFirst[c] = index;
        }
    }

    /// <summary>TPR at each target FPR, or null when the counted region is too small to decide.</summary>
    public IReadOnlyDictionary<string, double>? Resolve(long[] gaps, long[] ties)
    {
        int bins = _thresholds.Length;
        var candidates = new List<(long Fps, long Tps, bool Decided)> { (0, 0, true) };
        long fps = 0, tps = 0;
        for (int j = 0; j < bins; j++)
        {
            fps += _counts[j];
            tps += gaps[j] + ties[j];
            bool first = j == 0 && gaps[0] == 0;
            long? after = j + 1 < bins ? gaps[j + 1] : _coversAll ? _negatives - tps : null;
            if (after is null) { candidates.Add((fps, tps, false)); break; }
            bool kept = first || after > 0 || j + 1 == bins
                || _counts[j] != _counts[j + 1] || ties[j] != ties[j + 1];
            if (kept) candidates.Add((fps, tps, true));
        }
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (key, target) in Targets)
        {
            double best = double.PositiveInfinity;
            long bestTps = 0;
            bool decided = false;
            foreach (var c in candidates)
            {
                if (!c.Decided) break;
                double fpr = c.Fps / (double)_positives;
                double gap = Math.Abs(fpr - target);
                if (gap < best) { best = gap; bestTps = c.Tps; }
                if (fpr >= target) { decided = true; break; }
            }
            if (!decided && !(_coversAll && candidates.All(c => c.Decided))) return null;
            result[key] = _negatives == 0 ? 0.0 : bestTps / (double)_negatives;
        }
        return result;
    }
}
