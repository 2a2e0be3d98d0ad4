using System.Buffers.Binary;
using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>
/// What all-gather exchanges before any data: each rank's dtype and shape, so a rank whose trailing shape or
/// dtype differs is named before its bytes could be read as someone else's.
/// </summary>
internal static class GatherHeader
{
    public static byte[] Of(Tensor tensor)
    {
        if (tensor.dim() == 0) throw new FastReidException("all-gather: concatenates along dim 0, so a tensor needs at least one dimension; got a scalar");
        var header = new byte[8 * (tensor.dim() + 1)];
        BinaryPrimitives.WriteInt64LittleEndian(header, (long)tensor.dtype);
        for (var d = 0; d < tensor.dim(); d++) BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8 * (d + 1)), tensor.shape[d]);
        return header;
    }

    /// <summary>Every rank's first-dimension size; a fault naming the first rank whose header differs from <paramref name="mine"/>.</summary>
    public static long[] Rows(byte[][] headers, byte[] mine, int rank, out CollectiveException? fault)
    {
        var rows = new long[headers.Length];
        fault = null;
        for (var i = 0; i < headers.Length; i++)
        {
            var h = headers[i];
            var same = h.Length == mine.Length && h.AsSpan(0, 8).SequenceEqual(mine.AsSpan(0, 8)) && h.AsSpan(16).SequenceEqual(mine.AsSpan(16));
            if (!same)
            {
                fault = new CollectiveException(i, $"all-gather: rank {i} gave {Describe(h)} and rank {rank} {Describe(mine)}; only the first dimension may differ");
                return rows;
            }
            rows[i] = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(8));
        }
        return rows;
    }

    private static string Describe(byte[] header)
    {
        if (header.Length < 16) return "a scalar";
        var dims = Enumerable.Range(1, header.Length / 8 - 1).Select(d => BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8 * d)));
        return $"{(ScalarType)BinaryPrimitives.ReadInt64LittleEndian(header)} [{string.Join(", ", dims)}]";
    }
}
