using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>How <see cref="ICollectives.AllReduce"/> combines the ranks' values.</summary>
public enum ReduceOp
{
    Sum,
    /// <summary>The sum divided by the world size (gradient averaging).</summary>
    Mean,
}

/// <summary>
/// The collective operations data-parallel training and evaluation need, across <see cref="WorldSize"/>
/// processes (ranks). The contract every backend keeps:
/// <list type="bullet">
/// <item>Every rank makes the same calls in the same order with the same shapes (as with torch.distributed);
/// only <see cref="AllGather"/> allows the first dimension to differ between ranks.</item>
/// <item>Tensors are CPU, contiguous and laid out as their shape says (a view with a storage offset is fine);
/// <see cref="AllReduce"/> takes float32 only, <see cref="Broadcast"/> and <see cref="AllGather"/> any dtype.
/// A tensor that breaks the rule is refused with a <see cref="FastReidException"/> before anything is sent,
/// so the ranks stay in step.</item>
/// <item>Results are identical, bit for bit, on every rank.</item>
/// <item>A call never hangs: a peer that closes its connection ends the call within seconds, a peer that
/// stays silent for <see cref="CollectiveOptions.PeerTimeout"/> ends it then; both with a
/// <see cref="CollectiveException"/> naming the rank at fault, on every rank. After that the instance is
/// unusable (every call rethrows): the run is meant to exit and be restarted from its checkpoint.</item>
/// <item>With a world size of 1 every call returns at once and leaves its tensors as they are.</item>
/// </list>
/// Not thread-safe: one caller thread per instance.
/// </summary>
public interface ICollectives : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>The rank among the processes of this host (selects the GPU).</summary>
    int LocalRank { get; }

    /// <summary>Where the tensors of every call must live: the CPU (tcp, world size 1) or CUDA (nccl).</summary>
    TorchSharp.DeviceType TensorDevice { get; }

    /// <summary>Reduces the tensors element-wise across ranks, in place; the tensors of one call travel as one bucket.</summary>
    void AllReduce(IReadOnlyList<Tensor> tensors, ReduceOp op);

    /// <summary>Overwrites <paramref name="tensor"/> on every rank with its value on <paramref name="root"/>.</summary>
    void Broadcast(Tensor tensor, int root);

    /// <summary>Every rank's tensor concatenated along dim 0 in rank order; first-dimension sizes may differ.</summary>
    Tensor AllGather(Tensor tensor);

    /// <summary>Every rank's bytes, indexed by rank (sizes may differ; for small metadata).</summary>
    byte[][] AllGatherBytes(ReadOnlySpan<byte> bytes);

    /// <summary>Returns once every rank has entered it.</summary>
    void Barrier();
}
