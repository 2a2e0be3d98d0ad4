namespace FastReid.Evaluation;

/// <summary>
/// α-weighted average query expansion (FastReID's aqe): every query and gallery feature is replaced by
/// the mean of its qe_k most similar features (itself included) weighted by similarity^α, repeated
/// qe_times. Similarities use the L2-normalised features; the averaged ones are the unnormalised.
/// </summary>
internal static class QueryExpansion
{
    public static (FeatureSet Query, FeatureSet Gallery) Apply(FeatureSet query, FeatureSet gallery,
        int times, int k, double alpha, RowProducts products, long budgetBytes)
    {
        int n = query.Count + gallery.Count, dim = query.Dim;
        var all = new float[(long)n * dim];
        query.Features.CopyTo(all, 0);
        gallery.Features.CopyTo(all, query.Features.Length);
        for (int t = 0; t < times; t++)
        {
            var normalised = VectorMath.NormalizeRows(all, n, dim);
            var (index, similarity) = NearestNeighbours.ByInnerProduct(normalised, n, dim, k, products, budgetBytes);
            int kk = Math.Min(k, n);
            var expanded = new float[all.Length];
            var source = all;
            Parallel.For(0, n, () => new double[dim], (i, _, acc) =>
            {
                Array.Clear(acc);
                for (int j = 0; j < kk; j++)
                {
                    double w = Math.Pow(similarity[i * kk + j], alpha);
                    var row = source.AsSpan(index[i * kk + j] * dim, dim);
                    for (int c = 0; c < dim; c++) acc[c] += row[c] * w;
                }
                var dst = expanded.AsSpan(i * dim, dim);
                for (int c = 0; c < dim; c++) dst[c] = (float)(acc[c] / kk);
                return acc;
            }, _ => { });
            all = expanded;
        }
        var q = all.AsSpan(0, query.Features.Length).ToArray();
        var g = all.AsSpan(query.Features.Length).ToArray();
        return (query with { Features = q }, gallery with { Features = g });
    }
}
