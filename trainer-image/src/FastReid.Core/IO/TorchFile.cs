using System.Collections;
using System.IO.Compression;
using System.Numerics;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace FastReid.IO;

/// <summary>
/// State dicts in PyTorch's <c>torch.save</c> files, read with <see cref="PickleReader"/> (nothing in the file is
/// run). Both of torch.save's formats: the zip archive (PyTorch 1.6 and later: <c>*/data.pkl</c> plus one
/// <c>*/data/KEY</c> entry per storage) and the legacy stream (before 1.6, and <c>_use_new_zipfile_serialization=False</c>;
/// torchvision's and IBN-Net's ImageNet weights): pickles of the magic number, protocol version and system info,
/// then the object, then the list of storage keys, then each storage as an int64 element count and its bytes.
/// <para>
/// The state dict is the file's top-level dict, or its <c>"model"</c> entry when it has one (a FastReID or
/// detectron2 checkpoint: <c>{"model", "optimizer", "scheduler", "iteration"}</c>). Everything else in the file
/// is read as opaque values (<see cref="PyObject"/>: a scheduler's <c>collections.Counter</c>, an optimizer's
/// own classes) and never turned into tensors, so only the model's storages are read.
/// </para>
/// Written files are what FastReID's Checkpointer writes (<c>{"model": state_dict}</c> in the zip format), which
/// <c>torch.load</c> and FastReID's <c>Checkpointer.load</c> read.
/// </summary>
public static class TorchFile
{
    private static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture);
    private const long LegacyProtocol = 1001;

    public static void Save(string path, IReadOnlyDictionary<string, Tensor> state)
    {
        var model = new Hashtable();
        foreach (var (name, tensor) in state) model[name] = tensor;
        using var stream = File.Create(path);
        PyTorchPickler.PickleStateDict(stream, new Hashtable { ["model"] = model });
    }

    /// <summary>The state dict's tensors by name (see above); entries that are not tensors are left out.</summary>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        if (stream.Read(head) < 4) throw new FormatException("the file is too short for torch.save's formats");
        stream.Position = 0;
        return head is [0x50, 0x4b, 0x03, 0x04] ? ReadZip(stream) : ReadLegacy(stream);
    }

    private static Dictionary<string, Tensor> ReadZip(Stream stream)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        var pickle = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
            ?? throw new FormatException("the zip archive has no data.pkl: it is not a torch.save file (a TorchScript archive needs torch.jit.load)");
        var folder = pickle.FullName[..^"data.pkl".Length];
        object? root;
        using (var data = new MemoryStream())
        {
            using (var entry = pickle.Open()) entry.CopyTo(data);
            data.Position = 0;
            root = new PickleReader(data, pid => StorageOf(pid, zipped: true), Rebuild).Load();
        }
        return Materialise(StateDictOf(root), storage =>
        {
            var entry = archive.GetEntry(folder + "data/" + storage.Key) ?? throw new FormatException($"storage {storage.Key} is missing from the archive");
            using var s = entry.Open();
            return ReadExactly(s, storage.ByteLength);
        });
    }

    private static Dictionary<string, Tensor> ReadLegacy(Stream stream)
    {
        object? Next(Func<object?, object?>? persistent = null) =>
            new PickleReader(stream, persistent ?? (_ => throw new FormatException("unexpected persistent id")), Rebuild).Load();
        object? magic;
        try { magic = Next(); }
        catch (Exception e) when (e is FormatException or EndOfStreamException or KeyNotFoundException or InvalidCastException)
        {
            throw new FormatException("it is neither of torch.save's formats (a zip archive, or the legacy pickle stream)");
        }
        if (magic is not BigInteger m || m != LegacyMagic)
            throw new FormatException("it is not a torch.save file (no zip archive, and no legacy magic number)");
        if (Next() is not long protocol || protocol != LegacyProtocol)
            throw new FormatException("legacy torch.save file of an unknown protocol version");
        if (Next() is Dictionary<object, object?> info && info.TryGetValue("little_endian", out var little) && little is false)
            throw new FormatException("the file was written on a big-endian machine, which is not supported");
        var referenced = new Dictionary<string, StorageRef>();
        var root = Next(pid =>
        {
            var storage = StorageOf(pid, zipped: false);
            referenced.TryAdd(storage.Key, storage);
            return storage;
        });
        var keys = (Next() as List<object?> ?? throw new FormatException("legacy torch.save file without its storage list")).Cast<string>().ToList();
        var state = StateDictOf(root);
        var wanted = state.Values.Select(t => t.Storage.Key).ToHashSet();
        var bytes = new Dictionary<string, byte[]>();
        var reader = new BinaryReader(stream);
        foreach (var key in keys)
        {
            long count = reader.ReadInt64();
            var storage = referenced.TryGetValue(key, out var r) ? r : throw new FormatException($"storage {key} is listed but never referenced");
            if (wanted.Contains(key)) bytes[key] = ReadExactly(stream, checked((int)(count * storage.ElementSize)));
            else stream.Seek(count * storage.ElementSize, SeekOrigin.Current); // not the model's (optimizer state)
        }
        return Materialise(state, s => bytes[s.Key]);
    }

    private static Dictionary<string, TensorRef> StateDictOf(object? root)
    {
        if (root is not Dictionary<object, object?> top)
            throw new FormatException($"the file holds {Describe(root)}, not a state dict (a dict of tensors); save model.state_dict(), not the model");
        var dict = top.TryGetValue("model", out var model) && model is Dictionary<object, object?> nested ? nested : top;
        var tensors = new Dictionary<string, TensorRef>(StringComparer.Ordinal);
        foreach (var (key, value) in dict)
            if (key is string name && value is TensorRef t) tensors[name] = t;
        if (tensors.Count == 0) throw new FormatException("it holds no tensors");
        return tensors;
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PyObject p => "a " + p.Type.FullName,
        _ => "a " + o.GetType().Name,
    };

    private static Dictionary<string, Tensor> Materialise(Dictionary<string, TensorRef> state, Func<StorageRef, byte[]> read)
    {
        var storages = new Dictionary<string, Tensor>();
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, t) in state)
            {
                if (!storages.TryGetValue(t.Storage.Key, out var flat))
                {
                    var bytes = read(t.Storage);
                    flat = torch.empty(bytes.Length / t.Storage.ElementSize, t.Storage.DType);
                    flat.bytes = bytes;
                    storages[t.Storage.Key] = flat;
                }
                result[name] = flat.as_strided(t.Size, t.Stride, t.Offset + t.Storage.ViewOffset).contiguous().clone();
            }
        }
        finally
        {
            foreach (var s in storages.Values) s.Dispose();
        }
        return result;
    }

    private static StorageRef StorageOf(object? pid, bool zipped)
    {
        // ('storage', storage_type, key, location, numel[, view_metadata]); view_metadata only in old legacy files
        if (pid is not object?[] { Length: >= 5 } id || id[0] is not "storage" || id[1] is not PyGlobal type || id[2] is not string key)
            throw new FormatException("a persistent id that is not a torch storage");
        var (dtype, size) = DTypeOf(type.Name);
        long viewOffset = 0;
        if (!zipped && id.Length > 5 && id[5] is object?[] { Length: 3 } view && view[1] is long offset) viewOffset = offset;
        long numel = id[4] is long n ? n : 0;
        return new StorageRef(key, dtype, size, numel, viewOffset);
    }

    private static (ScalarType, int) DTypeOf(string storage) => storage switch
    {
        "FloatStorage" => (ScalarType.Float32, 4),
        "DoubleStorage" => (ScalarType.Float64, 8),
        "HalfStorage" => (ScalarType.Float16, 2),
        "BFloat16Storage" => (ScalarType.BFloat16, 2),
        "LongStorage" => (ScalarType.Int64, 8),
        "IntStorage" => (ScalarType.Int32, 4),
        "ShortStorage" => (ScalarType.Int16, 2),
        "CharStorage" => (ScalarType.Int8, 1),
        "ByteStorage" or "UntypedStorage" => (ScalarType.Byte, 1),
        "BoolStorage" => (ScalarType.Bool, 1),
        _ => throw new FormatException($"tensor storage type torch.{storage} is not supported"),
    };

    /// <summary>torch's tensor rebuild functions become <see cref="TensorRef"/>s; every other call stays opaque (null).</summary>
    private static object? Rebuild(PyGlobal f, object?[] args)
    {
        if (f.Module != "torch._utils") return null;
        switch (f.Name)
        {
            case "_rebuild_tensor" or "_rebuild_tensor_v2" when args is [StorageRef s, long offset, object?[] size, object?[] stride, ..]:
                return new TensorRef(s, offset, size.Cast<long>().ToArray(), stride.Cast<long>().ToArray());
            case "_rebuild_parameter" or "_rebuild_parameter_with_state" when args is [TensorRef t, ..]:
                return t;
            default:
                return null;
        }
    }

    private static byte[] ReadExactly(Stream s, int length)
    {
        var buffer = new byte[length];
        s.ReadExactly(buffer);
        return buffer;
    }

    private sealed record StorageRef(string Key, ScalarType DType, int ElementSize, long Numel, long ViewOffset)
    {
        public int ByteLength => checked((int)(Numel * ElementSize));
    }

    private sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);
}
