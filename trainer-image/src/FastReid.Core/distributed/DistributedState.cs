using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>What every rank must start from: rank 0's model state and rank 0's files.</summary>
public static class DistributedState
{
    /// <summary>Where this rank's tensors go for a collective call: the CPU, or this rank's own GPU (cuda:LOCAL_RANK).</summary>
    public static Device WireDevice(ICollectives group) =>
        group.TensorDevice == TorchSharp.DeviceType.CPU ? CPU : new Device(group.TensorDevice, group.LocalRank);

    /// <summary>
    /// Overwrites every parameter and buffer of <paramref name="module"/> with rank 0's (DDP does the same when
    /// it wraps a model), so ranks start identical whatever their random initialisation.
    /// </summary>
    public static void BroadcastFromRankZero(nn.Module module, ICollectives group)
    {
        if (group.WorldSize == 1) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var target = WireDevice(group);
        foreach (var t in module.parameters().Cast<Tensor>().Concat(module.buffers()))
        {
            if (t.device.type == group.TensorDevice && t.is_contiguous())
            {
                group.Broadcast(t, root: 0);
                continue;
            }
            var wire = t.to(target).contiguous();
            group.Broadcast(wire, root: 0);
            t.copy_(wire);
        }
    }

    /// <summary>Rank 0's bytes on every rank (other ranks pass null); null everywhere when rank 0 passed null.</summary>
    public static byte[]? BytesFromRankZero(byte[]? bytes, ICollectives group)
    {
        if (group.WorldSize == 1) return bytes;
        // one flag byte distinguishes "nothing" from an empty payload
        var payload = group.Rank == 0 ? bytes is null ? [0] : [1, .. bytes] : Array.Empty<byte>();
        var fromZero = group.AllGatherBytes(payload)[0];
        return fromZero[0] == 0 ? null : fromZero[1..];
    }
}
