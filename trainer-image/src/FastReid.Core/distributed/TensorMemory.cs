using System.Buffers;
using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>
/// The bytes of a CPU tensor as <see cref="Memory{T}"/>, without a copy, so ring frames can be sent from and
/// received into the tensor itself. Valid while the tensor lives; the collectives hold it only within a call.
/// </summary>
internal sealed unsafe class TensorMemory : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    private TensorMemory(byte* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    /// <summary>The tensor's bytes; refuses what the collectives cannot send as laid out (see <see cref="ICollectives"/>).</summary>
    public static Memory<byte> Of(Tensor tensor, string operation)
    {
        Require(tensor, operation);
        var bytes = tensor.numel() * tensor.element_size();
        if (bytes > int.MaxValue) throw new FastReidException($"{operation}: a tensor of {bytes} bytes is over the 2 GiB a call can carry; split it");
        if (bytes == 0) return Memory<byte>.Empty;
        // data_ptr is the storage's base; a view starts storage_offset elements into it
        var pointer = (byte*)BasePointer(tensor) + tensor.storage_offset() * tensor.element_size();
        return new TensorMemory(pointer, (int)bytes).Memory;
    }

    /// <summary>The address of the tensor's first element, on whatever device it lives (NCCL takes device pointers).</summary>
    public static IntPtr DataPointer(Tensor tensor) => tensor.numel() == 0 ? IntPtr.Zero : BasePointer(tensor) + (nint)(tensor.storage_offset() * tensor.element_size());

    // a typed storage must match the tensor's dtype, so the base pointer is read through the matching type
    private static IntPtr BasePointer(Tensor t) => t.dtype switch
    {
        ScalarType.Float32 => t.storage<float>().data_ptr(),
        ScalarType.Float64 => t.storage<double>().data_ptr(),
        ScalarType.Int64 => t.storage<long>().data_ptr(),
        ScalarType.Int32 => t.storage<int>().data_ptr(),
        ScalarType.Int16 => t.storage<short>().data_ptr(),
        ScalarType.Byte => t.storage<byte>().data_ptr(),
        ScalarType.Int8 => t.storage<sbyte>().data_ptr(),
        ScalarType.Bool => t.storage<bool>().data_ptr(),
        _ => throw new FastReidException($"the collectives do not carry {t.dtype} tensors; convert to float32 or an integer type"),
    };

    /// <summary>All-reduce adds floats: float32 only, so every rank reduces with the same arithmetic.</summary>
    public static void RequireReducible(Tensor tensor)
    {
        Require(tensor, "all-reduce");
        if (tensor.dtype != ScalarType.Float32) throw new FastReidException($"all-reduce: takes float32 tensors, got {tensor.dtype}");
    }

    public static void Require(Tensor tensor, string operation)
    {
        if (tensor.device_type != TorchSharp.DeviceType.CPU)
            throw new FastReidException($"{operation}: the tcp collectives take CPU tensors, got one on {tensor.device}");
        if (!tensor.is_contiguous())
            throw new FastReidException($"{operation}: tensor of shape [{string.Join(", ", tensor.shape)}] is not contiguous; call .contiguous() and copy the result back");
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
