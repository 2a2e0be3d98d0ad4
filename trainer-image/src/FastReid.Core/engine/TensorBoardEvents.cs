using System.Buffers.Binary;
using System.Text;

namespace FastReid.Engine;

/// <summary>One scalar of a TensorBoard event file: its tag, the training step and when it was written.</summary>
public sealed record ScalarEvent(string Tag, long Step, double WallTime, float Value);

/// <summary>
/// TensorBoard event files (<c>events.out.tfevents.TIME.HOST</c>), written and read through this one type so
/// the report plots exactly what TensorBoard shows. A file is TFRecord: per record a uint64 length, the masked
/// CRC-32C of those 8 bytes, the payload, the masked CRC-32C of the payload. Each payload is an <c>Event</c>
/// protobuf; the first holds <c>file_version "brain.Event:2"</c>, the others one <c>summary.value</c>
/// (<c>tag</c>, <c>simple_value</c>). Only these few fields are used, so they are encoded by hand (wire format:
/// Event wall_time=1 double, step=2 varint, file_version=3, summary=5; Summary value=1; Value tag=1, simple_value=2 float).
/// </summary>
public static class TensorBoardEvents
{
    public const string FilePrefix = "events.out.tfevents.";

    /// <summary>The file name TensorBoard expects, e.g. <c>events.out.tfevents.1764800000.host</c>.</summary>
    public static string FileName(DateTimeOffset time, string host) => $"{FilePrefix}{time.ToUnixTimeSeconds()}.{host}";

    /// <summary>The record that opens every event file.</summary>
    public static void WriteFileVersion(Stream stream, double wallTime)
    {
        var e = new List<byte>();
        Tag(e, 1, 1); Fixed64(e, BitConverter.DoubleToInt64Bits(wallTime));
        Tag(e, 3, 2); Bytes(e, Encoding.UTF8.GetBytes("brain.Event:2"));
        WriteRecord(stream, [.. e]);
    }

    public static void WriteScalar(Stream stream, ScalarEvent scalar)
    {
        var value = new List<byte>();
        Tag(value, 1, 2); Bytes(value, Encoding.UTF8.GetBytes(scalar.Tag));
        Tag(value, 2, 5); Fixed32(value, BitConverter.SingleToInt32Bits(scalar.Value));
        var summary = new List<byte>();
        Tag(summary, 1, 2); Bytes(summary, [.. value]);
        var e = new List<byte>();
        Tag(e, 1, 1); Fixed64(e, BitConverter.DoubleToInt64Bits(scalar.WallTime));
        Tag(e, 2, 0); Varint(e, (ulong)scalar.Step);
        Tag(e, 5, 2); Bytes(e, [.. summary]);
        WriteRecord(stream, [.. e]);
    }

    /// <summary>
    /// The scalars of every event file in <paramref name="dir"/> (a resumed run adds a file), in file-name then
    /// record order. A record cut short at the end (a run still writing, or killed) ends that file; a record whose
    /// checksum is wrong is an error naming the file and offset.
    /// </summary>
    public static IReadOnlyList<ScalarEvent> ReadDirectory(string dir)
    {
        if (!Directory.Exists(dir)) return [];
        return [.. Directory.GetFiles(dir, FilePrefix + "*").Order(StringComparer.Ordinal).SelectMany(ReadFile)];
    }

    public static IReadOnlyList<ScalarEvent> ReadFile(string path)
    {
        var data = File.ReadAllBytes(path);
        var scalars = new List<ScalarEvent>();
        int at = 0;
        while (at + 12 <= data.Length)
        {
            var header = data.AsSpan(at, 8);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            if (BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at + 8, 4)) != MaskedCrc(header))
                throw new FastReidException($"{path}: bad length checksum of the record at byte {at} (not a TensorBoard event file, or damaged)");
            if (length > (ulong)(data.Length - at - 16)) break; // cut short: the writer is still at it, or was killed
            var payload = data.AsSpan(at + 12, (int)length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at + 12 + (int)length, 4)) != MaskedCrc(payload))
                throw new FastReidException($"{path}: bad payload checksum of the record at byte {at} (damaged event file)");
            ParseEvent(payload, scalars);
            at += 16 + (int)length;
        }
        return scalars;
    }

    private static void ParseEvent(ReadOnlySpan<byte> e, List<ScalarEvent> into)
    {
        double wall = 0;
        long step = 0;
        var values = new List<(string Tag, float Value)>();
        foreach (var (field, wire, fixedValue, bytes) in Fields(e))
        {
            if (field == 1 && wire == 1) wall = BitConverter.Int64BitsToDouble((long)fixedValue);
            else if (field == 2 && wire == 0) step = (long)fixedValue;
            else if (field == 5 && wire == 2)
                foreach (var (sf, sw, _, value) in Fields(bytes))
                {
                    if (sf != 1 || sw != 2) continue;
                    string? tag = null;
                    float? simple = null;
                    foreach (var (vf, vw, vFixed, vBytes) in Fields(value))
                    {
                        if (vf == 1 && vw == 2) tag = Encoding.UTF8.GetString(vBytes);
                        else if (vf == 2 && vw == 5) simple = BitConverter.Int32BitsToSingle((int)vFixed);
                    }
                    if (tag is not null && simple is { } v) values.Add((tag, v));
                }
        }
        foreach (var (tag, v) in values) into.Add(new ScalarEvent(tag, step, wall, v));
    }

    /// <summary>The fields of one protobuf message: number, wire type, the value of a numeric field, the bytes of a length-delimited one.</summary>
    private static List<(int Field, int Wire, ulong Number, byte[] Bytes)> Fields(ReadOnlySpan<byte> m)
    {
        var fields = new List<(int, int, ulong, byte[])>();
        int i = 0;
        while (i < m.Length)
        {
            ulong key = ReadVarint(m, ref i);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: fields.Add((field, wire, ReadVarint(m, ref i), [])); break;
                case 1: fields.Add((field, wire, BinaryPrimitives.ReadUInt64LittleEndian(m[i..]), [])); i += 8; break;
                case 5: fields.Add((field, wire, BinaryPrimitives.ReadUInt32LittleEndian(m[i..]), [])); i += 4; break;
                case 2:
                    int n = (int)ReadVarint(m, ref i);
                    fields.Add((field, wire, 0, m.Slice(i, n).ToArray()));
                    i += n;
                    break;
                default: throw new FastReidException($"TensorBoard event: unsupported protobuf wire type {wire} (field {field})");
            }
        }
        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> m, ref int i)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = m[i++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
    }

    private static void WriteRecord(Stream stream, byte[] payload)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc(payload));
        stream.Write(header);
        stream.Write(payload);
        stream.Write(footer);
    }

    private static void Tag(List<byte> b, int field, int wire) => Varint(b, (ulong)(field << 3 | wire));

    private static void Varint(List<byte> b, ulong v)
    {
        for (; v >= 0x80; v >>= 7) b.Add((byte)(v | 0x80));
        b.Add((byte)v);
    }

    private static void Bytes(List<byte> b, byte[] bytes)
    {
        Varint(b, (ulong)bytes.Length);
        b.AddRange(bytes);
    }

    private static void Fixed64(List<byte> b, long v)
    {
        Span<byte> s = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(s, v);
        b.AddRange(s.ToArray());
    }

    private static void Fixed32(List<byte> b, int v)
    {
        Span<byte> s = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(s, v);
        b.AddRange(s.ToArray());
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1; // CRC-32C (Castagnoli), reflected
            table[n] = c;
        }
        return table;
    }

    /// <summary>TFRecord's masked CRC-32C: rotate right by 15 and add a constant, so a CRC of CRCs stays strong.</summary>
    private static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        crc ^= 0xFFFFFFFFu;
        return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
    }
}
