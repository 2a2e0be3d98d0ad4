using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>
/// Collectives inside the autograd graph, for the model-side pieces of data-parallel training: SyncBN's
/// statistics (<see cref="AllReduceSum"/>) and the triplet loss's global batch (<see cref="AllGather"/>,
/// FastReID's <c>GatherLayer</c>).
/// <para>
/// Why the backward of both is a sum over ranks. Rank r computes a loss L_r from its own images; the trainer
/// averages parameter gradients after backward (DDP), so the step follows ∇ of L = (1/W) Σ_r L_r. A value
/// that crosses ranks, s = Σ_k s_k (the all-reduce) or the concatenation [f_0; …; f_(W−1)] (the all-gather),
/// feeds every rank's loss. Its local part s_k (or f_k) changes all of them, so ∂(Σ_r L_r)/∂s_k =
/// Σ_r ∂L_r/∂s: the sum over ranks of the gradient each rank got for the shared value. That sum is what the
/// backward all-reduce makes; each rank then backpropagates its own share (all of it for the sum, its slice
/// for the gather) through its own graph, so rank k holds ∂(Σ_r L_r)/∂θ through its own inputs only.
/// The trainer's average over ranks adds those contributions and divides by W: ∂L/∂θ exactly.
/// With equal local batches and L_r a local mean, L is the mean over the whole batch, i.e. the single-process
/// loss; the gradient of an <em>input</em> on rank k is W × the single-process one, since it is never averaged.
/// (Where every rank computes the same global loss, as the gathered triplet does, L_r = L_global and the
/// average again gives ∂L_global/∂θ.)
/// </para>
/// <para>
/// Tensors may live elsewhere than <see cref="ICollectives.TensorDevice"/> (CUDA tensors over the tcp ring):
/// they are copied there and back. With a world size of 1 both are the identity and add no graph node.
/// Every rank must make the same calls in the same order, forward and backward (true when they run the
/// same model; a rank whose loss skips a term would stall the others until the peer timeout).
/// </para>
/// <para>
/// A collective failing inside backward runs on libtorch's autograd callback, where a .NET exception cannot
/// unwind through native frames; the backward then hands back zeros and leaves the failure on the
/// collectives instance, which rethrows it from every later call: the trainer's gradient all-reduce right
/// after backward ends the run with the <see cref="CollectiveException"/> as usual.
/// </para>
/// </summary>
public static class DistributedAutograd
{
    /// <summary>The element-wise sum over ranks (float32); its gradient is summed over ranks too.</summary>
    public static Tensor AllReduceSum(Tensor tensor, ICollectives group)
        => group.WorldSize == 1 ? tensor.alias() : AllReduceSumFunction.apply(tensor, group);

    /// <summary>
    /// Every rank's tensor concatenated along dim 0 in rank order (sizes may differ); the gradient of this
    /// rank's rows is the sum over ranks of the gradient of those rows.
    /// </summary>
    public static Tensor AllGather(Tensor tensor, ICollectives group)
        => group.WorldSize == 1 ? tensor.alias() : AllGatherFunction.apply(tensor, group);

    /// <summary>All-gather outside the graph (labels, anything without a gradient), on the tensor's own device.</summary>
    public static Tensor AllGatherNoGrad(Tensor tensor, ICollectives group)
    {
        if (group.WorldSize == 1) return tensor.alias();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return group.AllGather(ToGroup(tensor, group)).to(tensor.device).MoveToOuterDisposeScope();
    }

    /// <summary>A copy on the collectives' device, contiguous, never sharing memory with <paramref name="tensor"/>.</summary>
    internal static Tensor ToGroup(Tensor tensor, ICollectives group)
    {
        var t = tensor.detach();
        var copy = t.device_type == group.TensorDevice ? t.clone() : t.to(DistributedState.WireDevice(group));
        return copy.contiguous();
    }

    internal static Tensor SummedOverRanks(Tensor grad, ICollectives group)
    {
        var buffer = ToGroup(grad, group);
        group.AllReduce([buffer], ReduceOp.Sum);
        return buffer;
    }

    /// <summary>
    /// Runs a collective of the backward pass; when a peer is lost returns zeros of the gradient's shape (see the
    /// type's remarks: the failure stays on the collectives instance and the next call rethrows it). Any other
    /// exception is a bug and is left to end the process.
    /// </summary>
    internal static Tensor InBackward(Tensor like, Func<Tensor> collective)
    {
        try
        {
            return collective();
        }
        catch (CollectiveException)
        {
            return zeros_like(like);
        }
    }
}

/// <summary>Forward: sum over ranks. Backward: the incoming gradient summed over ranks.</summary>
internal sealed class AllReduceSumFunction : autograd.SingleTensorFunction<AllReduceSumFunction>
{
    public override string Name => "FastReidAllReduceSum";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, group) = ((Tensor)vars[0], (ICollectives)vars[1]);
        ctx.save_data("group", group);
        var summed = DistributedAutograd.SummedOverRanks(input, group);
        return summed.to(input.device);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var group = (ICollectives)ctx.get_data("group");
        var grad = DistributedAutograd.InBackward(grad_output,
            () => DistributedAutograd.SummedOverRanks(grad_output, group).to(grad_output.device));
        return [grad, null!];
    }
}

/// <summary>Forward: every rank's rows concatenated in rank order. Backward: this rank's rows of the gradient summed over ranks.</summary>
internal sealed class AllGatherFunction : autograd.SingleTensorFunction<AllGatherFunction>
{
    public override string Name => "FastReidAllGather";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, group) = ((Tensor)vars[0], (ICollectives)vars[1]);
        // the sizes of the other ranks place this rank's rows in the gathered tensor
        var sizes = group.AllGatherBytes(BitConverter.GetBytes(input.shape[0])).Select(b => BitConverter.ToInt64(b)).ToArray();
        ctx.save_data("group", group);
        ctx.save_data("offset", sizes.Take(group.Rank).Sum());
        ctx.save_data("rows", input.shape[0]);
        var gathered = group.AllGather(DistributedAutograd.ToGroup(input, group));
        return gathered.to(input.device);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var group = (ICollectives)ctx.get_data("group");
        long offset = (long)ctx.get_data("offset"), rows = (long)ctx.get_data("rows");
        var mine = grad_output.narrow(0, offset, rows);
        var grad = DistributedAutograd.InBackward(mine,
            () => DistributedAutograd.SummedOverRanks(grad_output, group).narrow(0, offset, rows).to(grad_output.device));
        return [grad, null!];
    }
}
