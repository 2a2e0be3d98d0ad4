using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FastReid.Modeling.Layers;

/// <summary>
/// FastReID's <c>BN</c>: BatchNorm2d, with BatchNorm2d's parameters and buffers, whose training step counts
/// <c>num_batches_tracked</c> with a held <see cref="Scalar"/>. TorchSharp 0.107's own forward adds an implicit 1
/// to that counter, and an implicit Scalar can be finalized by a GC while libtorch reads it (see
/// <see cref="Scalars"/>); under load that failed a training step with "For integral input tensors, argument alpha
/// must not be a floating point number" from inside BatchNorm.forward. Evaluation adds nothing, so it is
/// TorchSharp's forward unchanged.
/// </summary>
public class PlainBatchNorm(long numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool trackRunningStats = true, string name = "BatchNorm2d")
    : BatchNorm(numFeatures, eps, momentum, affine, trackRunningStats, null, null, name)
{
    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4) throw new ArgumentException($"expected 4D input [N, C, H, W] (got {input.ndim}D input)");
    }

    public override Tensor forward(Tensor input)
    {
        if (!training || !track_running_stats || num_batches_tracked is not { } tracked) return base.forward(input);
        ValidateInputDimensions(input);
        CountBatch(tracked);
        double factor = momentum is null or 0 ? 1.0 / tracked.item<long>() : momentum.Value;
        return F.batch_norm(input, running_mean, running_var, weight, bias, true, factor, eps);
    }

    /// <summary>One more batch in <c>num_batches_tracked</c>, with held Scalars.</summary>
    protected static void CountBatch(Tensor tracked)
    {
        using var _ = no_grad();
        tracked.add_(Scalars.One, Scalars.One);
    }
}
