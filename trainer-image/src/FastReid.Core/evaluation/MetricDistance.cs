using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Evaluation;

/// <summary>
/// FastReID's query–gallery distances, two ways. <see cref="ComputeBlock"/> fills a block of query
/// rows with libtorch float32 products, exactly as FastReID forms them (cosine: 1 − q̂·ĝ;
/// euclidean: ‖q‖² + ‖g‖² − 2 q·g). <see cref="Exact"/> recomputes one pair in float64, and
/// <see cref="ErrorBound"/> bounds how far the two can differ, so ranking decisions that a float32
/// rounding could flip are settled exactly and the metrics equal those of an exact implementation.
/// </summary>
internal sealed class MetricDistance : IDisposable
{
    private const double Unit = 1.0 / (1 << 24); // float32 unit roundoff
    private readonly FeatureSet _query;
    private readonly FeatureSet _gallery;
    private readonly bool _cosine;
    private readonly double[] _queryScale;    // cosine: max(‖q‖, 1e-12); euclidean: ‖q‖²
    private readonly double[] _galleryScale;  // same for gallery rows
    private readonly double _maxGalleryNormSq;
    private readonly double _roundoffPerScale;
    private readonly Tensor _queryRows;
    private readonly Tensor _galleryRows;
    private readonly Tensor? _queryNormSq;
    private readonly Tensor? _galleryNormSq;

    public MetricDistance(FeatureSet query, FeatureSet gallery, bool cosine)
    {
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
            _queryRows = torch.from_array(VectorMath.NormalizeRows(query.Features, query.Count, query.Dim)).view(query.Count, query.Dim);
            _galleryRows = torch.from_array(VectorMath.NormalizeRows(gallery.Features, gallery.Count, gallery.Dim)).view(gallery.Count, gallery.Dim);
        }
        else
        {
            _queryRows = torch.from_array(query.Features).view(query.Count, query.Dim);
            _galleryRows = torch.from_array(gallery.Features).view(gallery.Count, gallery.Dim);
            _queryNormSq = torch.from_array(_queryScale.Select(v => (float)v).ToArray());
            _galleryNormSq = torch.from_array(_galleryScale.Select(v => (float)v).ToArray());
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
        long g = _gallery.Count;
        if ((long)rows * g > buffer.Length) throw new ArgumentException("buffer too small for the block", nameof(buffer));
        using var scope = torch.NewDisposeScope();
        var output = torch.from_array(buffer).narrow(0, 0, rows * g).view(rows, g);
        var block = _queryRows.narrow(0, start, rows);
        if (_cosine)
        {
            output.addmm_(block, _galleryRows.t(), beta: 0, alpha: -1);
            output.add_(1.0f);
        }
        else
        {
            output.copy_(_queryNormSq!.narrow(0, start, rows).unsqueeze(1).expand(rows, g));
            output.add_(_galleryNormSq!.unsqueeze(0));
            output.addmm_(block, _galleryRows.t(), beta: 1, alpha: -2);
        }
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

    public void Dispose()
    {
        _queryRows.Dispose();
        _galleryRows.Dispose();
        _queryNormSq?.Dispose();
        _galleryNormSq?.Dispose();
    }
}
