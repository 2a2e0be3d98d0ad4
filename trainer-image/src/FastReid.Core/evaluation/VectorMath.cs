using System.Numerics;
using System.Runtime.InteropServices;

namespace FastReid.Evaluation;

/// <summary>Float32 inputs, float64 accumulation: the exact side of the distance computations.</summary>
internal static class VectorMath
{
    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var va = MemoryMarshal.Cast<float, Vector<float>>(a);
        var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
        var acc0 = Vector<double>.Zero;
        var acc1 = Vector<double>.Zero;
        for (int i = 0; i < va.Length; i++)
        {
            Vector.Widen(va[i], out var alo, out var ahi);
            Vector.Widen(vb[i], out var blo, out var bhi);
            acc0 += alo * blo;
            acc1 += ahi * bhi;
        }
        double sum = Vector.Sum(acc0 + acc1);
        for (int i = va.Length * Vector<float>.Count; i < a.Length; i++) sum += (double)a[i] * b[i];
        return sum;
    }

    public static double SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var va = MemoryMarshal.Cast<float, Vector<float>>(a);
        var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
        var acc0 = Vector<double>.Zero;
        var acc1 = Vector<double>.Zero;
        for (int i = 0; i < va.Length; i++)
        {
            Vector.Widen(va[i], out var alo, out var ahi);
            Vector.Widen(vb[i], out var blo, out var bhi);
            var dlo = alo - blo;
            var dhi = ahi - bhi;
            acc0 += dlo * dlo;
            acc1 += dhi * dhi;
        }
        double sum = Vector.Sum(acc0 + acc1);
        for (int i = va.Length * Vector<float>.Count; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>target[i] = source[i] + c, in float32.</summary>
    public static void AddScalar(ReadOnlySpan<float> source, float c, Span<float> target)
    {
        var vs = MemoryMarshal.Cast<float, Vector<float>>(source);
        var vt = MemoryMarshal.Cast<float, Vector<float>>(target);
        var vc = new Vector<float>(c);
        for (int i = 0; i < vs.Length; i++) vt[i] = vs[i] + vc;
        for (int i = vs.Length * Vector<float>.Count; i < source.Length; i++) target[i] = source[i] + c;
    }

    public static double SquaredNorm(ReadOnlySpan<float> a) => Dot(a, a);

    /// <summary>Rows divided by max(‖row‖, 1e-12), as torch.nn.functional.normalize; computed in float64.</summary>
    public static float[] NormalizeRows(float[] features, int count, int dim) =>
        NormalizeRows(features, count, dim, new float[features.Length]);

    /// <summary>As <see cref="NormalizeRows(float[], int, int)"/>, into result (which may be features itself).</summary>
    public static float[] NormalizeRows(float[] features, int count, int dim, float[] result)
    {
        Parallel.For(0, count, i =>
        {
            var row = features.AsSpan(i * dim, dim);
            double inv = 1.0 / Math.Max(Math.Sqrt(SquaredNorm(row)), 1e-12);
            var dst = result.AsSpan(i * dim, dim);
            for (int j = 0; j < dim; j++) dst[j] = (float)(row[j] * inv);
        });
        return result;
    }
}
