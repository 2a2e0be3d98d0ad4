using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Evaluation;

/// <summary>
/// The k nearest rows of a feature matrix to each of its own rows, by libtorch float32 products in row
/// blocks sized from a memory budget (never an N×N matrix). Ties are broken by the lower index.
/// </summary>
internal static class NearestNeighbours
{
    /// <summary>k most similar rows by inner product (rows expected L2-normalised), with their similarities.</summary>
    public static (int[] Index, float[] Similarity) ByInnerProduct(float[] rows, int count, int dim, int k, long budgetBytes) =>
        Search(rows, count, dim, k, budgetBytes, largest: true);

    /// <summary>k nearest rows by squared euclidean distance (as faiss IndexFlatL2), with their distances.</summary>
    public static (int[] Index, float[] Distance) BySquaredL2(float[] rows, int count, int dim, int k, long budgetBytes) =>
        Search(rows, count, dim, k, budgetBytes, largest: false);

    private static (int[], float[]) Search(float[] rows, int count, int dim, int k, long budgetBytes, bool largest)
    {
        k = Math.Min(k, count);
        var index = new int[(long)count * k];
        var value = new float[(long)count * k];
        int blockRows = (int)Math.Clamp(budgetBytes / 2 / (4L * count), 1, Math.Min(Math.Min(count, 1024), int.MaxValue / 2 / count));
        var buffer = new float[(long)blockRows * count];
        using var all = torch.from_array(rows).view(count, dim);
        float[]? normSq = null;
        if (!largest)
        {
            normSq = new float[count];
            Parallel.For(0, count, i => normSq[i] = (float)VectorMath.SquaredNorm(rows.AsSpan(i * dim, dim)));
        }
        using var norms = normSq is null ? null : torch.from_array(normSq);
        for (int start = 0; start < count; start += blockRows)
        {
            int n = Math.Min(blockRows, count - start);
            using (var scope = torch.NewDisposeScope())
            {
                var output = torch.from_array(buffer).narrow(0, 0, (long)n * count).view(n, count);
                var block = all.narrow(0, start, n);
                if (largest) output.addmm_(block, all.t(), beta: 0, alpha: 1);
                else
                {
                    output.copy_(norms!.narrow(0, start, n).unsqueeze(1).expand(n, count));
                    output.add_(norms!.unsqueeze(0));
                    output.addmm_(block, all.t(), beta: 1, alpha: -2);
                }
            }
            Parallel.For(0, n, r =>
                SelectTop(buffer.AsSpan(r * count, count), k, largest,
                    index.AsSpan((start + r) * k, k), value.AsSpan((start + r) * k, k)));
        }
        return (index, value);
    }

    /// <summary>Partial selection of the k best entries in (value, index) order, sorted best first.</summary>
    private static void SelectTop(ReadOnlySpan<float> row, int k, bool largest, Span<int> index, Span<float> value)
    {
        // A bounded insertion list: k is small (≤ a few tens) in every caller.
        int filled = 0;
        for (int i = 0; i < row.Length; i++)
        {
            float v = row[i];
            if (filled == k && !Better(v, i, value[k - 1], index[k - 1], largest)) continue;
            int pos = filled == k ? k - 1 : filled++;
            while (pos > 0 && Better(v, i, value[pos - 1], index[pos - 1], largest))
            {
                value[pos] = value[pos - 1];
                index[pos] = index[pos - 1];
                pos--;
            }
            value[pos] = v;
            index[pos] = i;
        }
    }

    private static bool Better(float v, int i, float other, int otherIndex, bool largest) =>
        largest ? v > other || (v == other && i < otherIndex) : v < other || (v == other && i < otherIndex);
}
