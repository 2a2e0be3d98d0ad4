using System.Numerics;
using System.Runtime.InteropServices;

namespace FastReid.Evaluation;

/// <summary>
/// The k nearest rows of a feature matrix to each of its own rows, by float32 products (<see cref="RowProducts"/>)
/// in row blocks sized from a memory budget (never an N×N matrix). Ties are broken by the lower index.
/// Both measures are symmetric, so a block of rows [s, s + c) is multiplied with the rows from s on only:
/// each pair is formed once, offered to its row's list, and, when the column lies past the block, to the
/// column's list as well. That halves the products of the (q+g)² search that re-ranking starts with.
/// </summary>
internal static class NearestNeighbours
{
    /// <summary>Rows per block: past ~256 rows a product gains nothing, and the blocks share half the budget.</summary>
    private const int MaxBlockRows = 256;

    /// <summary>k most similar rows by inner product (rows expected L2-normalised), with their similarities.</summary>
    public static (int[] Index, float[] Similarity) ByInnerProduct(float[] rows, int count, int dim, int k,
        RowProducts products, long budgetBytes) =>
        Search(rows, count, dim, k, products, budgetBytes, largest: true);

    /// <summary>k nearest rows by squared euclidean distance (as faiss IndexFlatL2), with their distances.</summary>
    public static (int[] Index, float[] Distance) BySquaredL2(float[] rows, int count, int dim, int k,
        RowProducts products, long budgetBytes) =>
        Search(rows, count, dim, k, products, budgetBytes, largest: false);

    private static (int[], float[]) Search(float[] rows, int count, int dim, int k, RowProducts products, long budgetBytes,
        bool largest)
    {
        k = Math.Min(k, count);
        int workers = products.Workers;
        int blockRows = (int)Math.Clamp(budgetBytes / 2 / (4L * count * workers), 1, Math.Min(MaxBlockRows, int.MaxValue / count));
        float[]? normSq = null;
        if (!largest)
        {
            normSq = new float[count];
            Parallel.For(0, count, i => normSq[i] = (float)VectorMath.SquaredNorm(rows.AsSpan(i * dim, dim)));
        }
        // Lists of k (value, index), best first, padded with a value every real one beats.
        float worst = largest ? float.NegativeInfinity : float.PositiveInfinity;
        var rowValue = Filled(new float[(long)count * k], worst);
        var rowIndex = Filled(new int[(long)count * k], int.MaxValue);
        var columnValue = new float[]?[workers];
        var columnIndex = new int[]?[workers];
        var columnWorst = new float[]?[workers];  // the last value of each column list, contiguous for the scan
        var buffers = new float[]?[workers];
        products.ForEachChunk(count, blockRows, (start, n, worker) =>
        {
            int width = count - start;
            var buffer = buffers[worker] ??= new float[(long)blockRows * count];
            var colValue = columnValue[worker] ??= Filled(new float[(long)count * k], worst);
            var colIndex = columnIndex[worker] ??= Filled(new int[(long)count * k], int.MaxValue);
            if (largest) products.Multiply(rows, start, n, rows, start, width, dim, buffer, alpha: 1, beta: 0);
            else
            {
                var tail = normSq.AsSpan(start, width);
                for (int r = 0; r < n; r++) VectorMath.AddScalar(tail, normSq![start + r], buffer.AsSpan(r * width, width));
                products.Multiply(rows, start, n, rows, start, width, dim, buffer, alpha: -2, beta: 1);
            }
            var colWorst = columnWorst[worker] ??= Filled(new float[count], worst);
            for (int r = 0; r < n; r++)
            {
                int i = start + r;
                var row = new ReadOnlySpan<float>(buffer, r * width, width);
                ScanRow(row, start, rowValue.AsSpan(i * k, k), rowIndex.AsSpan(i * k, k), largest);
                // Columns past the block see row i only here.
                ScanColumns(row[n..], start + n, i, colValue, colIndex, colWorst, k, largest);
            }
        });
        Parallel.For(0, count, j =>
        {
            var value = rowValue.AsSpan(j * k, k);
            var index = rowIndex.AsSpan(j * k, k);
            for (int w = 0; w < workers; w++)
            {
                if (columnValue[w] is not { } colValue) continue;
                var colIndex = columnIndex[w]!;
                for (int t = j * k; t < j * k + k; t++)
                    if (Better(colValue[t], colIndex[t], value[k - 1], index[k - 1], largest)) Insert(value, index, colValue[t], colIndex[t], largest);
            }
        });
        return (rowIndex, rowValue);
    }

    /// <summary>Offers (row[c], first + c) to one best-first list; a vector of values none of which can enter is skipped at once.</summary>
    private static void ScanRow(ReadOnlySpan<float> row, int first, Span<float> value, Span<int> index, bool largest)
    {
        int k = value.Length, width = Vector<float>.Count, c = 0;
        var values = MemoryMarshal.Cast<float, Vector<float>>(row);
        for (int v = 0; v < values.Length; v++)
        {
            var threshold = new Vector<float>(value[k - 1]);
            if (largest ? !Vector.GreaterThanOrEqualAny(values[v], threshold) : !Vector.LessThanOrEqualAny(values[v], threshold)) continue;
            for (c = v * width; c < (v + 1) * width; c++)
                if (Better(row[c], first + c, value[k - 1], index[k - 1], largest)) Insert(value, index, row[c], first + c, largest);
        }
        for (c = values.Length * width; c < row.Length; c++)
            if (Better(row[c], first + c, value[k - 1], index[k - 1], largest)) Insert(value, index, row[c], first + c, largest);
    }

    /// <summary>Offers (row[c], i) to the list of column first + c, for every c; worst holds each list's last value.</summary>
    private static void ScanColumns(ReadOnlySpan<float> row, int first, int i, float[] value, int[] index, float[] worst, int k,
        bool largest)
    {
        int width = Vector<float>.Count;
        var values = MemoryMarshal.Cast<float, Vector<float>>(row);
        var worsts = MemoryMarshal.Cast<float, Vector<float>>(worst.AsSpan(first, row.Length));
        for (int v = 0; v < values.Length; v++)
        {
            if (largest ? !Vector.GreaterThanOrEqualAny(values[v], worsts[v]) : !Vector.LessThanOrEqualAny(values[v], worsts[v])) continue;
            for (int c = v * width; c < (v + 1) * width; c++) Offer(row[c], first + c);
        }
        for (int c = values.Length * width; c < row.Length; c++) Offer(row[c], first + c);

        void Offer(float v, int j)
        {
            long last = (long)j * k + k - 1;
            if (!Better(v, i, value[last], index[last], largest)) return;
            Insert(value.AsSpan(j * k, k), index.AsSpan(j * k, k), v, i, largest);
            worst[j] = value[last];
        }
    }

    private static T[] Filled<T>(T[] array, T value)
    {
        Array.Fill(array, value);
        return array;
    }

    /// <summary>Puts (v, i), which beats the last entry, into its place in a best-first list, dropping the last.</summary>
    private static void Insert(Span<float> value, Span<int> index, float v, int i, bool largest)
    {
        int pos = value.Length - 1;
        while (pos > 0 && Better(v, i, value[pos - 1], index[pos - 1], largest))
        {
            value[pos] = value[pos - 1];
            index[pos] = index[pos - 1];
            pos--;
        }
        value[pos] = v;
        index[pos] = i;
    }

    private static bool Better(float v, int i, float other, int otherIndex, bool largest) =>
        largest ? v > other || (v == other && i < otherIndex) : v < other || (v == other && i < otherIndex);
}
