using System.IO.Compression;
using System.Text;
using FastReid.Evaluation;
using FastReid.IO;

namespace FastReid.Core.Tests.Evaluation;

public sealed class NpzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("npz-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>An .npy entry laid out byte for byte as numpy writes one (header dict, space padding, newline).</summary>
    private static byte[] NumpyBytes(string dict, byte[] data, int major = 1)
    {
        int prefix = major == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        var header = dict.PadRight(total - prefix - 1) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add((byte)major);
        bytes.Add(0);
        bytes.AddRange(major == 1 ? BitConverter.GetBytes((ushort)header.Length) : BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    private string Zip(string name, CompressionLevel level, params (string Entry, byte[] Bytes)[] entries)
    {
        var path = PathOf(name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, bytes) in entries)
        {
            using var s = zip.CreateEntry(entry, level).Open();
            s.Write(bytes);
        }
        return path;
    }

    private static byte[] Floats(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
    private static byte[] Longs(params long[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    private string FeatureFile(string name, CompressionLevel level = CompressionLevel.NoCompression,
        string featureDict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", byte[]? featureData = null,
        string pidDict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", int major = 1) =>
        Zip(name, level,
            ("features.npy", NumpyBytes(featureDict, featureData ?? Floats(1, 2, 3, 4, 5, 6), major)),
            ("pids.npy", NumpyBytes(pidDict, Longs(7, 8))),
            ("camids.npy", NumpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", Longs(0, 1))));

    [Theory]
    [InlineData(CompressionLevel.NoCompression, 1)]  // np.savez
    [InlineData(CompressionLevel.Optimal, 1)]        // np.savez_compressed
    [InlineData(CompressionLevel.NoCompression, 2)]  // format 2.0 header
    public void Reads_numpy_layout(CompressionLevel level, int major)
    {
        var set = FeatureSetNpz.Read(FeatureFile("a.npz", level, major: major));
        Assert.Equal((2, 3), (set.Count, set.Dim));
        Assert.Equal([1f, 2, 3, 4, 5, 6], set.Features);
        Assert.Equal([7L, 8], set.Pids);
        Assert.Equal([0L, 1], set.CamIds);
    }

    [Fact]
    public void Round_trips_every_supported_dtype()
    {
        var arrays = new Dictionary<string, NpyArray>
        {
            ["f4"] = NpyArray.Of(new float[] { 1.5f, -2, float.MaxValue, 0, 1, 2 }, 2, 3),
            ["f8"] = NpyArray.Of(new double[] { Math.PI, -1e300 }),
            ["i8"] = NpyArray.Of(new long[] { long.MinValue, 5 }),
            ["i4"] = NpyArray.Of(new int[] { int.MaxValue, -3, 4 }),
            ["u1"] = NpyArray.Of(new byte[] { 0, 255 }),
            ["b1"] = NpyArray.Of(new bool[] { true, false, true }),
            ["empty"] = NpyArray.Of(Array.Empty<float>(), 0, 4),
        };
        foreach (bool compressed in new[] { false, true })
        {
            var path = PathOf($"all-{compressed}.npz");
            Npz.Write(path, arrays, compressed);
            var back = Npz.Read(path);
            Assert.Equal(arrays.Keys.Order(), back.Keys.Order());
            foreach (var (name, array) in arrays)
            {
                Assert.Equal(array.Dtype, back[name].Dtype);
                Assert.Equal(array.Shape, back[name].Shape);
                Assert.Equal(array.Data.Cast<object>(), back[name].Data.Cast<object>());
            }
        }
    }

    [Fact]
    public void Writes_headers_numpy_can_parse_and_replaces_files_atomically()
    {
        var path = PathOf("set.npz");
        File.WriteAllText(path, "old");
        FeatureSetNpz.Write(path, new FeatureSet([1, 2, 3, 4], 2, 2, [1, 2], [3, 4]));
        Assert.Equal(["set.npz"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        using var zip = ZipFile.OpenRead(path);
        using var s = zip.GetEntry("features.npy")!.Open();
        var head = new byte[128];
        s.ReadExactly(head, 0, 128); // numpy aligns the data to 64 bytes: 10-byte prefix + 118-byte header
        Assert.Equal(118, BitConverter.ToUInt16(head, 8));
        var text = Encoding.ASCII.GetString(head, 10, 118);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", text);
        Assert.EndsWith("\n", text);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, FeatureSetNpz.Read(path).Features);
    }

    private string Fails(string path) => Assert.Throws<FastReidException>(() => FeatureSetNpz.Read(path)).Message;

    [Fact]
    public void Rejects_fortran_order_and_big_endian_with_a_fix()
    {
        var fortran = FeatureFile("f.npz", featureDict: "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }");
        Assert.Contains("array 'features': Fortran-order arrays are not supported", Fails(fortran));
        var big = FeatureFile("b.npz", featureDict: "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }");
        Assert.Contains("array 'features': big-endian dtype '>f4'", Fails(big));
    }

    [Fact]
    public void Rejects_wrong_dtype_shape_and_missing_arrays()
    {
        Assert.Contains("array 'features' has dtype <f8, expected float32",
            Fails(FeatureFile("d.npz", featureDict: "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }")));
        Assert.Contains("array 'pids' has dtype <i4, expected int64",
            Fails(FeatureFile("p.npz", pidDict: "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }")));
        Assert.Contains("array 'features' has shape (6,), expected [N, D]",
            Fails(FeatureFile("s.npz", featureDict: "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }")));
        Assert.Contains("array 'pids' has shape (2,) but 'features' has 1 rows",
            Fails(FeatureFile("n.npz", featureDict: "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }")));
        var missing = Zip("m.npz", CompressionLevel.NoCompression,
            ("features.npy", NumpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", Floats(1, 2, 3, 4, 5, 6))));
        Assert.Contains("array 'pids' is missing (found: features)", Fails(missing));
    }

    [Fact]
    public void Rejects_truncated_data_non_zip_and_absent_files()
    {
        Assert.Contains("array 'features': data is truncated", Fails(FeatureFile("t.npz", featureData: Floats(1, 2, 3))));
        var text = PathOf("x.npz");
        File.WriteAllText(text, "hello");
        Assert.Contains("not an .npz file", Fails(text));
        Assert.Contains("file not found", Fails(PathOf("absent.npz")));
    }

    [Fact]
    public void Rejects_nan_features_naming_the_file() =>
        Assert.Contains("n.npz: features contain NaN at row 1, column 0",
            Fails(FeatureFile("n.npz", featureData: Floats(1, 2, 3, float.NaN, 5, 6))));
}
