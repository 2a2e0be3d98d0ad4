using FastReid.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Modeling.Layers;

/// <summary>
/// Batch norm over the whole data-parallel batch (FastReID's <c>syncBN</c>, PyTorch's <c>SyncBatchNorm</c>),
/// for [N, C, H, W] input. In training, with a <see cref="Group"/> of more than one rank, the per-channel
/// sum, sum of squares and element count of every rank are added up by one autograd all-reduce; the global
/// mean and biased variance normalise, and the running statistics take the global mean and the unbiased
/// global variance with the same momentum rule as <see cref="PlainBatchNorm"/>. In evaluation, or with no group
/// (or a group of one), it is the plain batch norm, bit for bit, so export and single-process training see
/// nothing new. Parameters and buffers are BatchNorm2d's (<c>weight</c>, <c>bias</c>, <c>running_mean</c>,
/// <c>running_var</c>, <c>num_batches_tracked</c>): a BN checkpoint loads into syncBN and back.
/// <para>
/// The variance is E[x²] − E[x]² in float32 (the sums must travel as float32): exact enough for
/// activations whose mean is not orders of magnitude above their spread, which batch-normalised networks keep;
/// the count is exact below 2^24 elements per channel across all ranks.
/// </para>
/// </summary>
public sealed class SyncBatchNorm(long numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool trackRunningStats = true)
    : PlainBatchNorm(numFeatures, eps, momentum, affine, trackRunningStats, nameof(SyncBatchNorm))
{
    /// <summary>The ranks whose batches are normalised together; set by <see cref="DistributedModel.Attach"/>.</summary>
    public ICollectives? Group { get; internal set; }

    public override Tensor forward(Tensor input)
    {
        if (!training || Group is not { WorldSize: > 1 } group) return base.forward(input);
        ValidateInputDimensions(input);
        using var scope = NewDisposeScope();
        long c = num_features;
        long[] reduceDims = [0, 2, 3];
        var count = full([1], input.numel() / c, dtype: input.dtype, device: input.device);
        var local = cat([input.sum(reduceDims), (input * input).sum(reduceDims), count]);
        var global = DistributedAutograd.AllReduceSum(local, group);
        var n = global[^1];
        var mean = global[..(int)c] / n;
        var variance = (global[(int)c..(int)(2 * c)] / n - mean * mean).clamp_min(0);
        var invStd = (variance + eps).rsqrt();
        var y = (input - mean.view(1, c, 1, 1)) * invStd.view(1, c, 1, 1);
        if (affine) y = y * weight.view(1, c, 1, 1) + bias!.view(1, c, 1, 1);
        if (track_running_stats) UpdateRunningStats(mean, variance, n);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>As <see cref="BatchNorm.forward"/> does it: momentum 0 (or none) means a cumulative average.</summary>
    private void UpdateRunningStats(Tensor mean, Tensor biasedVariance, Tensor n)
    {
        using var _ = no_grad();
        CountBatch(num_batches_tracked!);
        double factor = momentum is null or 0 ? 1.0 / num_batches_tracked!.item<long>() : momentum.Value;
        double elements = n.item<float>();
        var unbiased = biasedVariance * (elements / Math.Max(elements - 1, 1));
        // held until the end of this method: an implicit Scalar could be finalized during the native call
        using Scalar keep = (1 - factor).ToScalar(), take = factor.ToScalar();
        running_mean!.mul_(keep).add_(mean.detach(), alpha: take);
        running_var!.mul_(keep).add_(unbiased.detach(), alpha: take);
    }
}
