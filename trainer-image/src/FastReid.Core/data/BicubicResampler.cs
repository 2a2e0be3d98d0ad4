namespace FastReid.Data;

/// <summary>
/// Resizes 8-bit RGB as PIL's <c>Image.resize(size, BICUBIC)</c> does, which is what FastReID's
/// <c>T.Resize(size, interpolation=3)</c> runs: the separable convolution of Pillow's resampler (horizontal
/// pass first, into 8-bit rows, then vertical), the bicubic kernel with a = −0.5, its support widened by the
/// shrink factor when shrinking (so a downscale averages every source pixel instead of sampling a few), and
/// PIL's fixed-point arithmetic (coefficients with 22 fractional bits, rounded, clipped to 0…255), so the
/// bytes are PIL's, not merely close. Written from the published algorithm (Pillow's libImaging/Resample.c).
/// </summary>
public static class BicubicResampler
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const double Support = 2.0;

    /// <summary>
    /// <paramref name="source"/>: rows of <paramref name="rowBytes"/> bytes, pixels of
    /// <paramref name="pixelBytes"/> bytes (3 for RGB, 4 for RGBA; alpha is ignored) whose first three are R, G, B.
    /// Returns RGB bytes [outHeight, outWidth, 3].
    /// </summary>
    public static byte[] Resize(ReadOnlySpan<byte> source, int width, int height, int rowBytes, int pixelBytes, int outWidth, int outHeight)
    {
        if (width < 1 || height < 1 || outWidth < 1 || outHeight < 1)
            throw new ArgumentOutOfRangeException(nameof(width), $"cannot resize {width}x{height} to {outWidth}x{outHeight}");
        if (pixelBytes < 3 || rowBytes < width * pixelBytes || source.Length < (long)(height - 1) * rowBytes + width * pixelBytes)
            throw new ArgumentException($"{source.Length} bytes do not hold {width}x{height} pixels of {pixelBytes} bytes in rows of {rowBytes}", nameof(source));
        var vertical = Filter.For(height, outHeight);
        var output = new byte[outHeight * outWidth * 3];
        if (width == outWidth)
        {
            Vertical(source, rowBytes, pixelBytes, 0, width, vertical, output);
            return output;
        }
        var horizontal = Filter.For(width, outWidth);
        // the horizontal pass only computes the rows the vertical one reads
        int first = vertical.Start[0], last = vertical.Start[outHeight - 1] + vertical.Count[outHeight - 1];
        var rows = new byte[(last - first) * outWidth * 3];
        Horizontal(source, rowBytes, pixelBytes, first, last, horizontal, rows);
        if (height == outHeight) return rows; // PIL skips the identity pass; its coefficients would be 1 and 0 anyway
        Vertical(rows, outWidth * 3, 3, first, outWidth, vertical, output);
        return output;
    }

    private static unsafe void Horizontal(ReadOnlySpan<byte> source, int rowBytes, int pixelBytes, int first, int last, Filter f, Span<byte> rows)
    {
        int outWidth = f.Start.Length, size = f.Size;
        fixed (byte* src = source, dst = rows)
        fixed (int* weights = f.Weights, start = f.Start, count = f.Count)
        {
            byte* o = dst;
            for (int y = first; y < last; y++)
            {
                byte* row = src + (long)y * rowBytes;
                for (int x = 0; x < outWidth; x++)
                {
                    int* k = weights + x * size;
                    byte* p = row + start[x] * pixelBytes;
                    int r = Half, g = Half, b = Half;
                    for (int j = 0, n = count[x]; j < n; j++, p += pixelBytes)
                    {
                        int w = k[j];
                        r += p[0] * w;
                        g += p[1] * w;
                        b += p[2] * w;
                    }
                    o[0] = Clip(r);
                    o[1] = Clip(g);
                    o[2] = Clip(b);
                    o += 3;
                }
            }
        }
    }

    /// <summary>
    /// Rows of <paramref name="source"/> start at source row <paramref name="first"/> (what the horizontal pass
    /// kept). Each output row accumulates its taps row by row, so the inner loop runs along contiguous memory.
    /// </summary>
    private static unsafe void Vertical(ReadOnlySpan<byte> source, int rowBytes, int pixelBytes, int first, int width, Filter f, Span<byte> output)
    {
        int outHeight = f.Start.Length, size = f.Size, values = width * 3;
        var sums = new int[values];
        fixed (byte* src = source, dst = output)
        fixed (int* weights = f.Weights, acc = sums)
        {
            for (int y = 0; y < outHeight; y++)
            {
                int* k = weights + y * size;
                new Span<int>(acc, values).Fill(Half);
                for (int j = 0, n = f.Count[y]; j < n; j++)
                {
                    int w = k[j];
                    byte* row = src + (long)(f.Start[y] - first + j) * rowBytes;
                    if (pixelBytes == 3)
                    {
                        for (int i = 0; i < values; i++) acc[i] += row[i] * w;
                    }
                    else
                    {
                        for (int x = 0, i = 0; i < values; x += pixelBytes, i += 3)
                        {
                            acc[i] += row[x] * w;
                            acc[i + 1] += row[x + 1] * w;
                            acc[i + 2] += row[x + 2] * w;
                        }
                    }
                }
                byte* o = dst + (long)y * values;
                for (int i = 0; i < values; i++) o[i] = Clip(acc[i]);
            }
        }
    }

    private const int Half = 1 << (PrecisionBits - 1);

    private static byte Clip(int v) => v >= 256 << PrecisionBits ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PrecisionBits);

    /// <summary>
    /// The taps of each output pixel along one axis: source pixels <c>Start[i] … Start[i] + Count[i] − 1</c> with
    /// fixed-point weights <c>Weights[i·Size …]</c>, normalised to sum to one before rounding, as PIL does.
    /// </summary>
    private sealed record Filter(int[] Start, int[] Count, int[] Weights, int Size)
    {
        public static Filter For(int inSize, int outSize)
        {
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = Support * filterScale, inverse = 1.0 / filterScale;
            int size = (int)Math.Ceiling(support) * 2 + 1;
            var start = new int[outSize];
            var count = new int[outSize];
            var weights = new int[outSize * size];
            var k = new double[size];
            for (int i = 0; i < outSize; i++)
            {
                double center = (i + 0.5) * scale;
                // (int) truncates toward zero, as C's cast in PIL; the clamps make the sign irrelevant
                int min = Math.Max((int)(center - support + 0.5), 0);
                int n = Math.Min((int)(center + support + 0.5), inSize) - min;
                double sum = 0;
                for (int j = 0; j < n; j++)
                {
                    k[j] = Cubic((j + min - center + 0.5) * inverse); // PIL multiplies by the inverse: the same doubles
                    sum += k[j];
                }
                for (int j = 0; j < n; j++)
                {
                    double w = sum != 0 ? k[j] / sum : k[j];
                    weights[i * size + j] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
                }
                start[i] = min;
                count[i] = n;
            }
            return new Filter(start, count, weights, size);
        }

        /// <summary>Keys' cubic convolution kernel with a = −0.5 (PIL's bicubic_filter).</summary>
        private static double Cubic(double x)
        {
            const double a = -0.5;
            x = Math.Abs(x);
            if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
            if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
            return 0;
        }
    }
}
