namespace FastReid.Evaluation;

/// <summary>One valid query's contribution: average precision, inverse negative penalty, rank of the first match.</summary>
internal readonly record struct QueryOutcome(double AveragePrecision, double InversePenalty, int FirstMatchRank);

/// <summary>
/// FastReID's per-query ranking without sorting the gallery. Every metric of eval_market1501 depends
/// only on the ranks of the matches among the kept gallery entries (same pid, same camera removed),
/// so each non-match is binned between the sorted match distances and the ranks follow by a prefix
/// sum: O(G log k) per query instead of O(G log G). Order is (distance, gallery index), i.e. a stable
/// argsort. Where the float32 block value of a non-match is within the error bound of a match
/// distance, the exact float64 distance decides.
/// </summary>
internal static class QueryRanking
{
    /// <param name="approx">block distances of this query to every gallery entry.</param>
    /// <param name="galleryPids">gallery pids; entries with the query's pid are matches or removed.</param>
    /// <param name="matchDistances">exact distances of the matches, ascending by (distance, index).</param>
    /// <param name="matchIndices">gallery indices of the matches, in the same order.</param>
    /// <param name="errorBound">bound of |approx − exact| for this query.</param>
    public static QueryOutcome Rank(ReadOnlySpan<float> approx, long[] galleryPids, long queryPid,
        double[] matchDistances, int[] matchIndices, double errorBound, Func<int, double> exact)
    {
        int k = matchDistances.Length;
        Span<int> before = k <= 256 ? stackalloc int[k + 1] : new int[k + 1];
        before.Clear();
        double low = matchDistances[0] - errorBound;
        double high = matchDistances[k - 1] + errorBound;
        for (int g = 0; g < approx.Length; g++)
        {
            double d = approx[g];
            if (d > high || galleryPids[g] == queryPid) continue;
            if (d < low) { before[0]++; continue; }
            before[Position(d, g, errorBound, matchDistances, matchIndices, exact)]++;
        }
        double precisionSum = 0;
        int nonMatchesBefore = 0;
        int firstRank = 0, lastRank = 0;
        for (int j = 0; j < k; j++)
        {
            nonMatchesBefore += before[j];
            int rank = j + 1 + nonMatchesBefore;
            if (j == 0) firstRank = rank;
            lastRank = rank;
            precisionSum += (j + 1) / (double)rank;
        }
        return new QueryOutcome(precisionSum / k, k / (double)lastRank, firstRank);
    }

    /// <summary>How many matches come before non-match g in (distance, index) order.</summary>
    private static int Position(double approx, int g, double errorBound, double[] matchDistances, int[] matchIndices,
        Func<int, double> exact)
    {
        int lo = LowerBound(matchDistances, approx - errorBound);
        int hi = LowerBound(matchDistances, approx + errorBound);
        // No match distance lies in [approx − bound, approx + bound): the exact distance of g, which lies in
        // that interval, is above the first lo matches and below the rest, whatever rounding did.
        if (lo == hi && (hi == matchDistances.Length || matchDistances[hi] > approx + errorBound)) return lo;
        double d = exact(g);
        int left = 0, right = matchDistances.Length;
        while (left < right)
        {
            int mid = (left + right) >>> 1;
            bool matchFirst = matchDistances[mid] < d || (matchDistances[mid] == d && matchIndices[mid] < g);
            if (matchFirst) left = mid + 1; else right = mid;
        }
        return left;
    }

    /// <summary>First index whose value is ≥ x.</summary>
    private static int LowerBound(double[] sorted, double x)
    {
        int left = 0, right = sorted.Length;
        while (left < right)
        {
            int mid = (left + right) >>> 1;
            if (sorted[mid] < x) left = mid + 1; else right = mid;
        }
        return left;
    }
}
