namespace FastReid.Pipeline.Tune;

/// <summary>
/// A kernel density over a search space's unit cube, as TPE and BOHB fit them to good and bad trials: an equally
/// weighted mixture of product kernels, one per observed point, plus (for TPE) a uniform prior component of weight
/// <c>priorWeight</c>, so the density never vanishes where nothing was tried. Ordered dimensions use a Gaussian
/// truncated to [0, 1] (renormalised, so every kernel integrates to 1 on the cube); categorical ones an
/// Aitchison-Aitken kernel: the point's own category keeps 1 - λ, the K - 1 others share λ. A categorical
/// coordinate's density is a probability mass (the cube's cell i of K stands for category i).
/// </summary>
public sealed class ParzenEstimator
{
    private readonly int[] _categories;   // K for a categorical dimension, 0 for an ordered one
    private readonly double[][] _points;
    private readonly double[] _bandwidths; // σ for ordered dimensions, λ for categorical ones
    private readonly double _priorWeight;

    public ParzenEstimator(IReadOnlyList<Dimension> dimensions, IReadOnlyList<double[]> points, double[] bandwidths, double priorWeight)
    {
        if (points.Count == 0 && priorWeight <= 0) throw new ArgumentException("a density needs points or a prior");
        _categories = [.. dimensions.Select(CategoriesOf)];
        _points = [.. points];
        _bandwidths = [.. bandwidths.Select((b, d) => ClampBandwidth(b, _categories[d]))];
        _priorWeight = priorWeight;
    }

    public IReadOnlyList<double> Bandwidths => _bandwidths;

    /// <summary>Categories of a dimension that gets a categorical kernel (choice; fixed as one category); 0 for an ordered one.</summary>
    public static int CategoriesOf(Dimension d) => d.Kind switch { DimensionKind.Choice => d.Values.Count, DimensionKind.Fixed => 1, _ => 0 };

    /// <summary>
    /// The normal reference rule (Scott's, as statsmodels' <c>bw_normal_reference</c> that BOHB uses):
    /// 1.06 σ n^(-1/(d+4)) per dimension, at least <paramref name="minBandwidth"/>.
    /// </summary>
    public static double[] NormalReference(IReadOnlyList<Dimension> dimensions, IReadOnlyList<double[]> points, double minBandwidth)
    {
        int n = points.Count, d = dimensions.Count;
        var result = new double[d];
        for (int j = 0; j < d; j++)
        {
            double mean = points.Average(p => p[j]);
            double std = Math.Sqrt(points.Sum(p => (p[j] - mean) * (p[j] - mean)) / Math.Max(1, n));
            result[j] = Math.Max(minBandwidth, 1.06 * std * Math.Pow(n, -1.0 / (d + 4)));
        }
        return result;
    }

    /// <summary>The density at <paramref name="x"/> (unit-cube coordinates).</summary>
    public double Density(double[] x)
    {
        double sum = _priorWeight * PriorDensity();
        foreach (var p in _points)
        {
            double k = 1;
            for (int j = 0; j < x.Length && k > 0; j++) k *= Kernel(j, x[j], p[j], _bandwidths[j]);
            sum += k;
        }
        return sum / (_priorWeight + _points.Length);
    }

    /// <summary>
    /// A draw: a component chosen by weight, then each coordinate from that component's kernel, its bandwidth
    /// multiplied by <paramref name="widen"/> (BOHB's bandwidth factor; 1 draws from the density itself).
    /// </summary>
    public double[] Sample(Random random, double widen = 1, double minBandwidth = 0)
    {
        int d = _categories.Length;
        double pick = random.NextDouble() * (_priorWeight + _points.Length);
        if (pick < _priorWeight || _points.Length == 0)
            return [.. Enumerable.Range(0, d).Select(j => Snap(j, random.NextDouble()))];
        var centre = _points[Math.Min(_points.Length - 1, (int)(pick - _priorWeight))];
        var x = new double[d];
        for (int j = 0; j < d; j++)
        {
            double bw = ClampBandwidth(Math.Max(minBandwidth, _bandwidths[j] * widen), _categories[j]);
            x[j] = _categories[j] > 0 ? SampleCategory(random, j, centre[j], bw) : SampleTruncatedNormal(random, centre[j], bw);
        }
        return x;
    }

    private double PriorDensity()
    {
        double p = 1;
        foreach (int k in _categories) if (k > 0) p /= k;
        return p;
    }

    private double Kernel(int j, double x, double centre, double bw)
    {
        int k = _categories[j];
        if (k > 0)
        {
            if (k == 1) return 1;
            return Category(x, k) == Category(centre, k) ? 1 - bw : bw / (k - 1);
        }
        double mass = Gaussian.Cdf((1 - centre) / bw) - Gaussian.Cdf(-centre / bw);
        return Gaussian.Pdf((x - centre) / bw) / (bw * Math.Max(mass, 1e-300));
    }

    private double SampleCategory(Random random, int j, double centre, double lambda)
    {
        int k = _categories[j], own = Category(centre, k);
        if (k == 1 || random.NextDouble() >= lambda) return (own + 0.5) / k;
        int other = random.Next(k - 1);
        return (other + (other >= own ? 1 : 0) + 0.5) / k;
    }

    private static double SampleTruncatedNormal(Random random, double centre, double sigma)
    {
        // Rejection: the kernel keeps at least a third of its mass in [0, 1] (σ ≤ 1, centre in [0, 1]).
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            double x = centre + sigma * Gaussian.Standard(random);
            if (x >= 0 && x < 1) return x;
        }
        return Math.Clamp(centre, 0, Math.BitDecrement(1.0));
    }

    private double Snap(int j, double u) => _categories[j] > 0 ? (Category(u, _categories[j]) + 0.5) / _categories[j] : u;

    private static int Category(double u, int k) => Math.Clamp((int)(u * k), 0, k - 1);

    // A Gaussian wider than the cube is as good as flat; λ beyond (K-1)/K would prefer the other categories.
    private static double ClampBandwidth(double bw, int categories) => categories > 0
        ? Math.Clamp(bw, 0, categories <= 1 ? 0 : (categories - 1.0) / categories)
        : Math.Clamp(bw, 1e-6, 1.0);
}

/// <summary>The standard normal distribution, for the kernels.</summary>
public static class Gaussian
{
    public static double Pdf(double z) => Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);

    public static double Cdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    /// <summary>A standard normal draw (Box-Muller).</summary>
    public static double Standard(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>The complementary error function (Chebyshev fit, relative error below 1.2e-7 everywhere).</summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x), t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }
}
