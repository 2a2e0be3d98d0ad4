using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>World size 1: every collective is the identity, but tensors are checked as the ring checks them,
/// so code that runs here also runs on the ring.</summary>
public sealed class SingleProcessCollectives : ICollectives
{
    public int Rank => 0;
    public int WorldSize => 1;
    public TorchSharp.DeviceType TensorDevice => TorchSharp.DeviceType.CPU;
    public int LocalRank => 0;

    public void AllReduce(IReadOnlyList<Tensor> tensors, ReduceOp op)
    {
        foreach (var t in tensors)
        {
            TensorMemory.RequireReducible(t);
        }
    }

    public void Broadcast(Tensor tensor, int root)
    {
        if (root != 0) throw new FastReidException($"broadcast: root {root} is not a rank of 1");
        TensorMemory.Require(tensor, "broadcast");
    }

    public Tensor AllGather(Tensor tensor)
    {
        TensorMemory.Require(tensor, "all-gather");
        return tensor.clone();
    }

    public byte[][] AllGatherBytes(ReadOnlySpan<byte> bytes) => [bytes.ToArray()];

    public void Barrier() { }

    public void Dispose() { }
}
