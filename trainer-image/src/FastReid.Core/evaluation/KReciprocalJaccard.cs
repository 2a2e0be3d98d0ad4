namespace FastReid.Evaluation;

/// <summary>
/// The Jaccard distance of k-reciprocal re-ranking (Zhong et al., CVPR 2017) in FastReID's form
/// (compute_jaccard_distance): k1 nearest neighbours over query ∪ gallery by squared L2, k-reciprocal
/// sets expanded by their k1/2 sets when they overlap by more than 2/3, Gaussian-softmax weights,
/// local query expansion over the k2 nearest, then 1 − Σmin / (2 − Σmin). Everything is kept sparse:
/// each row of V holds only its expansion set, so memory grows with N·k, never N².
/// </summary>
internal sealed class KReciprocalJaccard
{
    private readonly int _queryCount;
    private readonly int _galleryCount;
    private readonly int[] _rowStart;   // V in CSR form over all N = Q + G rows, columns ascending
    private readonly int[] _columns;
    private readonly double[] _values;
    private readonly int[] _invStart;   // for each column, the gallery rows (local index) where V is non-zero
    private readonly int[] _invRows;
    private readonly double[] _invValues;

    private KReciprocalJaccard(int queryCount, int galleryCount, int[] rowStart, int[] columns, double[] values)
    {
        _queryCount = queryCount;
        _galleryCount = galleryCount;
        _rowStart = rowStart;
        _columns = columns;
        _values = values;
        int n = queryCount + galleryCount;
        _invStart = new int[n + 1];
        for (int r = queryCount; r < n; r++)
            for (int e = rowStart[r]; e < rowStart[r + 1]; e++) _invStart[columns[e] + 1]++;
        for (int c = 0; c < n; c++) _invStart[c + 1] += _invStart[c];
        _invRows = new int[_invStart[n]];
        _invValues = new double[_invStart[n]];
        var fill = (int[])_invStart.Clone();
        for (int r = queryCount; r < n; r++)
            for (int e = rowStart[r]; e < rowStart[r + 1]; e++)
            {
                int slot = fill[columns[e]]++;
                _invRows[slot] = r - queryCount;
                _invValues[slot] = values[e];
            }
    }

    /// <param name="query">features after any query expansion (unnormalised).</param>
    public static KReciprocalJaccard Build(FeatureSet query, FeatureSet gallery, bool cosine, int k1, int k2, RowProducts products, long budgetBytes)
    {
        int n = query.Count + gallery.Count, dim = query.Dim;
        var all = new float[(long)n * dim];
        query.Features.CopyTo(all, 0);
        gallery.Features.CopyTo(all, query.Features.Length);
        if (cosine) VectorMath.NormalizeRows(all, n, dim, result: all);

        var (rank, _) = NearestNeighbours.BySquaredL2(all, n, dim, k1, products, budgetBytes);
        int kk = Math.Min(k1, n);
        int half = (int)Math.Round(k1 / 2.0, MidpointRounding.ToEven);
        var reciprocal = new int[n][];
        var reciprocalHalf = new int[n][];
        Parallel.For(0, n, i =>
        {
            reciprocal[i] = Reciprocal(rank, kk, i, k1);
            reciprocalHalf[i] = Reciprocal(rank, kk, i, half);
        });

        var rows = new (int[] Columns, double[] Values)[n];
        Parallel.For(0, n, i =>
        {
            var own = reciprocal[i];
            var expansion = new HashSet<int>(own);
            var ownSet = new HashSet<int>(own);
            foreach (int candidate in own)
            {
                var candidateSet = reciprocalHalf[candidate];
                int overlap = 0;
                foreach (int c in candidateSet) if (ownSet.Contains(c)) overlap++;
                if (overlap > 2.0 / 3.0 * candidateSet.Length) expansion.UnionWith(candidateSet);
            }
            var columns = expansion.ToArray();
            Array.Sort(columns);
            var distances = new double[columns.Length];
            var row = all.AsSpan(i * dim, dim);
            for (int j = 0; j < columns.Length; j++)
                distances[j] = VectorMath.SquaredDistance(row, all.AsSpan(columns[j] * dim, dim));
            double min = distances.Length > 0 ? distances.Min() : 0;
            double sum = 0;
            for (int j = 0; j < distances.Length; j++) sum += distances[j] = Math.Exp(-(distances[j] - min));
            for (int j = 0; j < distances.Length; j++) distances[j] /= sum;
            rows[i] = (columns, distances);
        });

        if (k2 != 1)
        {
            int k2Used = Math.Min(k2, kk);
            var expanded = new (int[] Columns, double[] Values)[n];
            Parallel.For(0, n, () => (Dense: new double[n], Touched: new List<int>()), (i, _, scratch) =>
            {
                for (int j = 0; j < k2Used; j++)
                {
                    var (columns, values) = rows[rank[i * kk + j]];
                    for (int e = 0; e < columns.Length; e++)
                    {
                        if (values[e] == 0) continue; // FastReID's inverted index skips zero weights
                        if (scratch.Dense[columns[e]] == 0) scratch.Touched.Add(columns[e]);
                        scratch.Dense[columns[e]] += values[e];
                    }
                }
                scratch.Touched.Sort();
                var outColumns = scratch.Touched.ToArray();
                var outValues = new double[outColumns.Length];
                for (int e = 0; e < outColumns.Length; e++)
                {
                    outValues[e] = scratch.Dense[outColumns[e]] / k2Used;
                    scratch.Dense[outColumns[e]] = 0;
                }
                scratch.Touched.Clear();
                expanded[i] = (outColumns, outValues);
                return scratch;
            }, _ => { });
            rows = expanded;
        }

        var rowStart = new int[n + 1];
        for (int i = 0; i < n; i++) rowStart[i + 1] = rowStart[i] + rows[i].Columns.Length;
        var allColumns = new int[rowStart[n]];
        var allValues = new double[rowStart[n]];
        for (int i = 0; i < n; i++)
        {
            rows[i].Columns.CopyTo(allColumns, rowStart[i]);
            rows[i].Values.CopyTo(allValues, rowStart[i]);
        }
        return new KReciprocalJaccard(query.Count, gallery.Count, rowStart, allColumns, allValues);
    }

    /// <summary>Forward neighbours f of i (first k + 1, at most the k1 searched) that have i among their own.</summary>
    private static int[] Reciprocal(int[] rank, int kk, int i, int k)
    {
        int m = Math.Min(k + 1, kk);
        var result = new List<int>(m);
        for (int a = 0; a < m; a++)
        {
            int f = rank[i * kk + a];
            for (int b = 0; b < m; b++)
                if (rank[f * kk + b] == i) { result.Add(f); break; }
        }
        return [.. result];
    }

    /// <summary>Jaccard distances of query q to every gallery entry.</summary>
    public void Row(int q, Span<double> jaccard)
    {
        jaccard.Clear();
        for (int e = _rowStart[q]; e < _rowStart[q + 1]; e++)
        {
            int c = _columns[e];
            double v = _values[e];
            for (int s = _invStart[c]; s < _invStart[c + 1]; s++)
                jaccard[_invRows[s]] += Math.Min(v, _invValues[s]);
        }
        for (int g = 0; g < jaccard.Length; g++) jaccard[g] = Finish(jaccard[g]);
    }

    /// <summary>Jaccard distance of one query–gallery pair; the same sums in the same order as <see cref="Row"/>.</summary>
    public double Pair(int q, int g)
    {
        int r = _queryCount + g;
        int a = _rowStart[q], aEnd = _rowStart[q + 1], b = _rowStart[r], bEnd = _rowStart[r + 1];
        double sum = 0;
        while (a < aEnd && b < bEnd)
        {
            int ca = _columns[a], cb = _columns[b];
            if (ca == cb) { sum += Math.Min(_values[a], _values[b]); a++; b++; }
            else if (ca < cb) a++;
            else b++;
        }
        return Finish(sum);
    }

    public int GalleryCount => _galleryCount;

    private static double Finish(double minSum) => Math.Max(0.0, 1.0 - minSum / (2.0 - minSum));
}
