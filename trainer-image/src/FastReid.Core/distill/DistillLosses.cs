using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Distill;

/// <summary>
/// FastDistill's losses (FastReID V1.0, projects/FastDistill): the symmetric KL divergence of softened logits
/// and Heo et al.'s overhaul feature loss with its margins.
/// </summary>
public static class DistillLosses
{
    /// <summary>
    /// <c>KL(softmax(target/T) ‖ softmax(source/T))</c> summed over classes and averaged over the batch, times T²
    /// (Hinton et al.: keeps the gradient's size independent of T). FastReID's <c>_kldiv(y_s, y_t, t)</c>.
    /// </summary>
    public static Tensor KlDivergence(Tensor source, Tensor target, double temperature)
    {
        using var scope = NewDisposeScope();
        var logP = nn.functional.log_softmax(source / temperature, 1);
        var logQ = nn.functional.log_softmax(target / temperature, 1);
        var q = logQ.exp();
        var kl = (q * (logQ - logP)).sum() * (temperature * temperature) / source.shape[0];
        return kl.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// FastReID's <c>jsdiv_loss</c>: <c>(KL(s‖t) + KL(t‖s)) / 2</c>, each at temperature T and scaled by T². The
    /// teacher's logits are detached, so the gradient of both terms flows into the student only.
    /// </summary>
    public static Tensor SymmetricKl(Tensor student, Tensor teacher, double temperature)
    {
        using var scope = NewDisposeScope();
        var t = teacher.detach();
        return ((KlDivergence(student, t, temperature) + KlDivergence(t, student, temperature)) / 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The overhaul margin of each channel of a pre-ReLU feature whose batch norm has weight γ and bias β: the
    /// feature is taken as Gaussian with mean β and std |γ|, and the margin is the expectation of its negative
    /// part, <c>β − |γ|·φ(β/|γ|)/Φ(−β/|γ|)</c>; where <c>Φ(−β/|γ|) ≤ 0.001</c> (almost never negative) it is <c>−3|γ|</c>.
    /// Computed in float64, returned as float32 [C].
    /// </summary>
    public static Tensor OverhaulMargins(BatchNorm norm)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var s = norm.weight!.detach().to(ScalarType.Float64).to(CPU).abs();
        var m = norm.bias!.detach().to(ScalarType.Float64).to(CPU);
        var cdf = torch.special.ndtr(-m / s);
        var pdf = (-(m / s).pow(2) / 2).exp() / Math.Sqrt(2 * Math.PI);
        var margin = torch.where(cdf > 0.001, m - s * pdf / cdf.clamp(min: 1e-300), -3 * s);
        return margin.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Overhaul's partial L2 of one stage: the teacher's feature is raised to the margin (<c>max(t, margin)</c>,
    /// margins [C] broadcast over N, H, W), and the squared error counts except where the student is already at or
    /// below a non-positive target (both "off": the ReLU would hide the difference). Summed over all elements.
    /// </summary>
    public static Tensor PartialL2(Tensor student, Tensor teacher, Tensor margins)
    {
        using var scope = NewDisposeScope();
        var target = torch.maximum(teacher.detach(), margins.view(1, -1, 1, 1).to(teacher.dtype).to(teacher.device));
        var mask = student.gt(target).logical_or(target.gt(0)).to(student.dtype);
        return ((student - target).pow(2) * mask).sum().MoveToOuterDisposeScope();
    }
}
