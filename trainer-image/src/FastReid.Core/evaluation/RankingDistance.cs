namespace FastReid.Evaluation;

/// <summary>
/// The distance that ranking uses: the metric distance, or with re-ranking FastReID's blend
/// jaccard·(1 − λ) + distance·λ. Offers float32 blocks, exact pairs and the bound between them.
/// </summary>
internal sealed class RankingDistance(MetricDistance metric, KReciprocalJaccard? jaccard, double lambda)
{
    public int GalleryCount => metric.GalleryCount;

    public double Exact(int q, int g) => jaccard is null
        ? metric.Exact(q, g)
        : jaccard.Pair(q, g) * (1 - lambda) + metric.Exact(q, g) * lambda;

    public double ErrorBound(int q) => jaccard is null
        ? metric.ErrorBound(q)
        : lambda * metric.ErrorBound(q) + Math.ScaleB(1.0 + lambda * metric.MaxDistance(q), -22);

    /// <summary>Rows [start, start + rows) into buffer, row-major; one caller's block, computed on its own thread.</summary>
    public void ComputeBlock(int start, int rows, float[] buffer)
    {
        metric.ComputeBlock(start, rows, buffer);
        if (jaccard is null) return;
        int g = metric.GalleryCount;
        var scratch = new double[g];
        for (int r = 0; r < rows; r++)
        {
            jaccard.Row(start + r, scratch);
            var row = buffer.AsSpan(r * g, g);
            for (int i = 0; i < g; i++) row[i] = (float)(scratch[i] * (1 - lambda) + row[i] * lambda);
        }
    }
}
