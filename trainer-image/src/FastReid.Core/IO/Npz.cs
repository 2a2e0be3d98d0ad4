using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace FastReid.IO;

/// <summary>
/// One numpy array: <paramref name="Dtype"/> is numpy's descr (<c>&lt;f4 &lt;f8 &lt;i8 &lt;i4 |u1 |b1</c>),
/// <paramref name="Shape"/> its dimensions, <paramref name="Data"/> the C-order elements as a .NET array
/// of the matching type (float, double, long, int, byte, bool).
/// </summary>
public sealed record NpyArray(string Dtype, long[] Shape, Array Data)
{
    public static NpyArray Of(float[] data, params long[] shape) => new("<f4", Check(shape, data.Length), data);
    public static NpyArray Of(double[] data, params long[] shape) => new("<f8", Check(shape, data.Length), data);
    public static NpyArray Of(long[] data, params long[] shape) => new("<i8", Check(shape, data.Length), data);
    public static NpyArray Of(int[] data, params long[] shape) => new("<i4", Check(shape, data.Length), data);
    public static NpyArray Of(byte[] data, params long[] shape) => new("|u1", Check(shape, data.Length), data);
    public static NpyArray Of(bool[] data, params long[] shape) => new("|b1", Check(shape, data.Length), data);

    public string ShapeText => "(" + string.Join(", ", Shape) + (Shape.Length == 1 ? ",)" : ")");

    private static long[] Check(long[] shape, int length)
    {
        if (shape.Length == 0) shape = [length];
        if (shape.Aggregate(1L, (a, b) => a * b) != length)
            throw new ArgumentException($"shape ({string.Join(", ", shape)}) does not hold {length} elements");
        return shape;
    }
}

/// <summary>The .npy format (versions 1.0–3.0), little-endian C-order arrays of the supported dtypes.</summary>
public static class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    private static readonly Dictionary<string, (Type Type, int Size)> Dtypes = new(StringComparer.Ordinal)
    {
        ["<f4"] = (typeof(float), 4), ["<f8"] = (typeof(double), 8), ["<i8"] = (typeof(long), 8),
        ["<i4"] = (typeof(int), 4), ["|u1"] = (typeof(byte), 1), ["|b1"] = (typeof(bool), 1),
    };

    public static string SupportedDtypes => string.Join(" ", Dtypes.Keys);

    /// <param name="name">how error messages name the array (e.g. "Q.npz: array 'features'").</param>
    public static NpyArray Read(Stream stream, string name)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (!TryReadExactly(stream, prefix) || !prefix[..6].SequenceEqual(Magic))
            throw new FastReidException($"{name}: not a .npy array (bad magic)");
        byte major = prefix[6];
        int headerLength;
        if (major == 1)
        {
            Span<byte> len = stackalloc byte[2];
            if (!TryReadExactly(stream, len)) throw new FastReidException($"{name}: truncated .npy header");
            headerLength = len[0] | len[1] << 8;
        }
        else if (major is 2 or 3)
        {
            Span<byte> len = stackalloc byte[4];
            if (!TryReadExactly(stream, len)) throw new FastReidException($"{name}: truncated .npy header");
            headerLength = (int)Math.Min(BitConverter.ToUInt32(len), int.MaxValue);
        }
        else throw new FastReidException($"{name}: .npy format version {major}.{prefix[7]} is not supported (1.0, 2.0, 3.0 are)");
        if (headerLength > 1 << 20) throw new FastReidException($"{name}: .npy header of {headerLength} bytes is not plausible");
        var headerBytes = new byte[headerLength];
        if (!TryReadExactly(stream, headerBytes)) throw new FastReidException($"{name}: truncated .npy header");
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

        var descr = Regex.Match(header, @"['""]descr['""]\s*:\s*['""]([^'""]*)['""]");
        var fortran = Regex.Match(header, @"['""]fortran_order['""]\s*:\s*(True|False)");
        var shapeMatch = Regex.Match(header, @"['""]shape['""]\s*:\s*\(([^)]*)\)");
        if (!descr.Success || !fortran.Success || !shapeMatch.Success)
            throw new FastReidException($"{name}: malformed .npy header: {header.Trim()}");
        string dtype = descr.Groups[1].Value;
        if (dtype.Length > 1 && dtype[0] == '=' ) dtype = (dtype[1..] is "u1" or "b1" ? "|" : "<") + dtype[1..];
        if (dtype.StartsWith('>') && dtype[1..] is not ("u1" or "b1"))
            throw new FastReidException($"{name}: big-endian dtype '{dtype}' is not supported; save it little-endian, e.g. arr.astype('<{dtype[1..]}')");
        if (dtype is "<u1" or ">u1") dtype = "|u1";
        if (dtype is "<b1" or ">b1") dtype = "|b1";
        if (!Dtypes.TryGetValue(dtype, out var type))
            throw new FastReidException($"{name}: dtype '{dtype}' is not supported (supported: {SupportedDtypes})");
        if (fortran.Groups[1].Value == "True")
            throw new FastReidException($"{name}: Fortran-order arrays are not supported; save np.ascontiguousarray(arr)");
        var shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.TryParse(s.TrimEnd('L'), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v
                : throw new FastReidException($"{name}: bad shape '({shapeMatch.Groups[1].Value})' in .npy header"))
            .ToArray();
        // checked: a shape such as (2**63 - 1, 2**63 - 1) must not wrap around to a small count
        long count;
        try { count = shape.Aggregate(1L, (a, b) => checked(a * b)); }
        catch (OverflowException) { count = long.MaxValue; }
        if (count > Array.MaxLength)
            throw new FastReidException($"{name}: shape ({string.Join(", ", shape)}) holds more elements than one array can ({Array.MaxLength})");
        var data = Array.CreateInstance(type.Type, count);
        ReadElements(stream, data, type.Size, name);
        return new NpyArray(dtype, shape, data);
    }

    public static void Write(Stream stream, NpyArray array)
    {
        if (!Dtypes.TryGetValue(array.Dtype, out var type) || array.Data.GetType().GetElementType() != type.Type)
            throw new ArgumentException($"dtype '{array.Dtype}' does not match data of type {array.Data.GetType().Name}");
        string dict = $"{{'descr': '{array.Dtype}', 'fortran_order': False, 'shape': {array.ShapeText}, }}";
        // numpy pads the header with spaces so that the data starts on a 64-byte boundary.
        int major = dict.Length + 1 + 10 > ushort.MaxValue ? 2 : 1;
        int prefix = major == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        var header = dict.PadRight(total - prefix - 1) + "\n";
        stream.Write(Magic);
        stream.WriteByte((byte)major);
        stream.WriteByte(0);
        if (major == 1) { stream.WriteByte((byte)(header.Length & 0xff)); stream.WriteByte((byte)(header.Length >> 8)); }
        else stream.Write(BitConverter.GetBytes((uint)header.Length));
        stream.Write(Encoding.Latin1.GetBytes(header));
        WriteElements(stream, array.Data);
    }

    private static bool TryReadExactly(Stream stream, Span<byte> buffer)
    {
        try { stream.ReadExactly(buffer); return true; }
        catch (EndOfStreamException) { return false; }
    }

    private const int ChunkBytes = 1 << 24;

    private static void ReadElements(Stream stream, Array data, int size, string name)
    {
        long total = (long)data.Length * size;
        long done = 0;
        while (done < total)
        {
            int chunk = (int)Math.Min(ChunkBytes, total - done);
            var span = ByteSpan(data, done, chunk);
            if (!TryReadExactly(stream, span))
                throw new FastReidException($"{name}: data is truncated (expected {total} bytes for {data.Length} elements)");
            done += chunk;
        }
        if (data is bool[] flags)
        {
            var raw = MemoryMarshal.AsBytes(flags.AsSpan());
            for (int i = 0; i < raw.Length; i++) if (raw[i] > 1) raw[i] = 1;
        }
    }

    private static void WriteElements(Stream stream, Array data)
    {
        int size = Buffer.ByteLength(data) / Math.Max(1, data.Length);
        long total = (long)data.Length * size;
        for (long done = 0; done < total; done += ChunkBytes)
            stream.Write(ByteSpan(data, done, (int)Math.Min(ChunkBytes, total - done)));
    }

    private static Span<byte> ByteSpan(Array data, long offset, int length) => data switch
    {
        float[] a => MemoryMarshal.AsBytes(a.AsSpan((int)(offset / 4), length / 4)),
        double[] a => MemoryMarshal.AsBytes(a.AsSpan((int)(offset / 8), length / 8)),
        long[] a => MemoryMarshal.AsBytes(a.AsSpan((int)(offset / 8), length / 8)),
        int[] a => MemoryMarshal.AsBytes(a.AsSpan((int)(offset / 4), length / 4)),
        byte[] a => a.AsSpan((int)offset, length),
        bool[] a => MemoryMarshal.AsBytes(a.AsSpan((int)offset, length)),
        _ => throw new ArgumentException($"unsupported element type {data.GetType().Name}"),
    };
}

/// <summary>numpy's .npz: a zip of <c>NAME.npy</c> entries, stored (np.savez) or deflated (np.savez_compressed).</summary>
public static class Npz
{
    public static IReadOnlyDictionary<string, NpyArray> Read(string path)
    {
        if (!File.Exists(path)) throw new FastReidException($"{path}: file not found");
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException) { throw new FastReidException($"{path}: not an .npz file (not a zip archive)"); }
        using (zip)
        {
            var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal)) continue;
                string name = entry.FullName[..^4];
                using var stream = entry.Open();
                try { arrays[name] = Npy.Read(stream, $"{path}: array '{name}'"); }
                catch (InvalidDataException e) { throw new FastReidException($"{path}: array '{name}' is corrupt: {e.Message}"); }
            }
            return arrays;
        }
    }

    /// <summary>Writes atomically: a temporary file in the same folder, then a rename over <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, NpyArray> arrays, bool compressed = false)
    {
        Storage.AtomicFile.Write(path, temp =>
        {
            using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite);
            using var zip = new ZipArchive(file, ZipArchiveMode.Create);
            foreach (var (name, array) in arrays)
            {
                var entry = zip.CreateEntry(name + ".npy", compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using var stream = entry.Open();
                Npy.Write(stream, array);
            }
        });
    }
}
