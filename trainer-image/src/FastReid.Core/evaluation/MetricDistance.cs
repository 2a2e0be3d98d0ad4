namespace FastReid.Evaluation;

/// <summary>
/// FastReID's query–gallery distances, two ways. <see cref="ComputeBlock"/> fills a block of query
/// rows with float32 products (<see cref="RowProducts"/>), exactly as FastReID forms them (cosine: 1 − q̂·ĝ;
/// euclidean: ‖q‖² + ‖g‖² − 2 q·g). <see cref="Exact"/> recomputes one pair in float64, and
/// <see cref="ErrorBound"/> bounds how far the two can differ, so ranking decisions that a float32
/// rounding could flip are settled exactly and the metrics equal those of an exact implementation.
/// </summary>
internal sealed class MetricDistance
{
    private const double Unit = 1.0 / (1 << 24); // float32 unit roundoff
    private readonly FeatureSet _query;
    private readonly FeatureSet _gallery;
    private readonly bool _cosine;
    private readonly double[] _queryScale;    // cosine: max(‖q‖, 1e-12); euclidean: ‖q‖²
    private readonly double[] _galleryScale;  // same for gallery rows
    private readonly double _maxGalleryNormSq;
    private readonly double _roundoffPerScale;
    private readonly RowProducts _products;
    private readonly float[] _queryRows;      // cosine: normalised rows; euclidean: the features
    private readonly float[] _galleryRows;
    private readonly float[]? _queryNormSq;
    private readonly float[]? _galleryNormSq;

    public MetricDistance(FeatureSet query, FeatureSet gallery, bool cosine, RowProducts products)
    {
        _products = products;
        _query = query;
        _gallery = gallery;
        _cosine = cosine;
        _queryScale = Scales(query, cosine);
        _galleryScale = Scales(gallery, cosine);
        _maxGalleryNormSq = cosine ? 1.0 : _galleryScale.DefaultIfEmpty(0).Max();
        // Float32 inner products over D terms err by at most γ_D·Σ|x_i y_i| (γ_D ≈ D·u) in the worst case,
        // and by at most λ·√D·u·Σ|x_i y_i| except with probability 2·exp(−λ²/2) under the standard model of
        // independent roundings (Higham & Mary, SIAM J. Sci. Comput. 2019). λ = 10 (failure < 4e-22 per pair)
        // keeps the band that is re-checked exactly ~5× narrower than the worst case at D = 2048. The
        // constant covers normalisation, the norms and the final additions.
        _roundoffPerScale = (Math.Min(query.Dim, 10 * Math.Sqrt(query.Dim)) + 16) * Unit * 1.25;
        if (cosine)
        {
            _queryRows = VectorMath.NormalizeRows(query.Features, query.Count, query.Dim);
            _galleryRows = VectorMath.NormalizeRows(gallery.Features, gallery.Count, gallery.Dim);
        }
        else
        {
            _queryRows = query.Features;
            _galleryRows = gallery.Features;
            _queryNormSq = _queryScale.Select(v => (float)v).ToArray();
            _galleryNormSq = _galleryScale.Select(v => (float)v).ToArray();
        }
    }

    public int QueryCount => _query.Count;
    public int GalleryCount => _gallery.Count;

    private static double[] Scales(FeatureSet set, bool cosine)
    {
        var scales = new double[set.Count];
        Parallel.For(0, set.Count, i =>
        {
            double sq = VectorMath.SquaredNorm(set.Features.AsSpan(i * set.Dim, set.Dim));
            scales[i] = cosine ? Math.Max(Math.Sqrt(sq), 1e-12) : sq;
        });
        return scales;
    }

    /// <summary>Writes distances of query rows [start, start + rows) to all gallery rows into buffer, row-major.</summary>
    public void ComputeBlock(int start, int rows, float[] buffer)
    {
        int g = _gallery.Count;
        if ((long)rows * g > buffer.Length) throw new ArgumentException("buffer too small for the block", nameof(buffer));
        if (_cosine)
        {
            _products.Multiply(_queryRows, start, rows, _galleryRows, 0, g, _query.Dim, buffer, alpha: -1, beta: 0);
            var block = buffer.AsSpan(0, rows * g);
            VectorMath.AddScalar(block, 1.0f, block);
            return;
        }
        for (int r = 0; r < rows; r++) VectorMath.AddScalar(_galleryNormSq!, _queryNormSq![start + r], buffer.AsSpan(r * g, g));
        _products.Multiply(_queryRows, start, rows, _galleryRows, 0, g, _query.Dim, buffer, alpha: -2, beta: 1);
    }

    /// <summary>The float64 distance of one pair.</summary>
    public double Exact(int q, int g)
    {
        var qRow = _query.Features.AsSpan(q * _query.Dim, _query.Dim);
        var gRow = _gallery.Features.AsSpan(g * _gallery.Dim, _gallery.Dim);
        return _cosine
            ? 1.0 - VectorMath.Dot(qRow, gRow) / (_queryScale[q] * _galleryScale[g])
            : VectorMath.SquaredDistance(qRow, gRow);
    }

    /// <summary>An upper bound of |block value − <see cref="Exact"/>| over the gallery, for query q.</summary>
    public double ErrorBound(int q) =>
        _roundoffPerScale * (_cosine ? 1.0 : _queryScale[q] + _maxGalleryNormSq) + 1e-300;

    /// <summary>An upper bound of any distance of query q.</summary>
    public double MaxDistance(int q) =>
        _cosine ? 2.0 : Math.Pow(Math.Sqrt(_queryScale[q]) + Math.Sqrt(_maxGalleryNormSq), 2);
}
