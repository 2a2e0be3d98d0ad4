using FastReid.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Modeling.Losses;

/// <summary>FastReID's losses (fastreid/modeling/losses), each returning a scalar before its config scale.</summary>
public static class Losses
{
    /// <summary>
    /// Cross-entropy with label smoothing: <paramref name="epsilon"/> ≥ 0 spreads that mass over the other
    /// classes; a negative epsilon uses adaptive smoothing α·p(target) (FastReID's form).
    /// </summary>
    public static Tensor CrossEntropy(Tensor outputs, Tensor targets, double epsilon, double alpha)
    {
        using var scope = NewDisposeScope();
        long classes = outputs.shape[1];
        var logProbs = nn.functional.log_softmax(outputs, 1);
        Tensor smooth;
        using (no_grad())
        {
            smooth = epsilon >= 0
                ? torch.full([outputs.shape[0], 1], epsilon, dtype: outputs.dtype, device: outputs.device)
                : (nn.functional.softmax(outputs, 1).gather(1, targets.unsqueeze(1)) * alpha);
        }
        var oneHot = nn.functional.one_hot(targets, classes).to(outputs.dtype);
        var soft = (oneHot * (1 - smooth) + (1 - oneHot) * (smooth / (classes - 1))).detach();
        var loss = (-soft * logProbs).sum(1);
        using var nz = loss.count_nonzero();
        double denom = Math.Max(nz.item<long>(), 1);
        return (loss.sum() / denom).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Triplet loss with batch-hard mining (or softmax-weighted mining), on Euclidean distances or, with
    /// <paramref name="normFeat"/>, on <c>2 − 2·cos</c> (the squared distance of the normalised features, as
    /// FastReID's <c>cosine_dist</c>); a soft margin when <paramref name="margin"/> ≤ 0, falling back to a 0.3
    /// margin when the soft one overflows to infinity (FastReID's rule). With a
    /// <paramref name="group"/> of more than one rank, features (with their gradient) and targets are gathered
    /// from every rank first and the loss is the one of the global batch, on every rank (FastReID's
    /// <c>GatherLayer</c> + <c>concat_all_gather</c>; see <see cref="DistributedAutograd"/> for why the
    /// averaged gradient is then the single-process one).
    /// </summary>
    public static Tensor Triplet(Tensor features, Tensor targets, double margin, bool normFeat, bool hardMining, ICollectives? group = null)
    {
        using var scope = NewDisposeScope();
        if (group is { WorldSize: > 1 })
        {
            features = DistributedAutograd.AllGather(features, group);
            targets = DistributedAutograd.AllGatherNoGrad(targets, group);
        }
        Tensor dist = normFeat ? CosineDistance(features) : EuclideanDistance(features);
        long n = dist.shape[0];
        var same = targets.unsqueeze(1).expand(n, n).eq(targets.unsqueeze(0).expand(n, n)).to(features.dtype);
        var diff = 1 - same;
        Tensor ap, an;
        if (hardMining)
        {
            // FastReID's masking: a non-positive counts as distance 0 for the hardest positive, a positive as 1e9
            // for the hardest negative
            ap = (dist * same).max(1).values;
            an = (dist * diff + same * 1e9).min(1).values;
        }
        else
        {
            var distAp = dist * same;
            var distAn = dist * diff;
            var wAp = SoftmaxWeights(distAp, same);
            var wAn = SoftmaxWeights(-distAn, diff);
            ap = (distAp * wAp).sum(1);
            an = (distAn * wAn).sum(1);
        }
        var y = torch.ones_like(an);
        if (margin > 0) return nn.functional.margin_ranking_loss(an, ap, y, margin).MoveToOuterDisposeScope();
        var soft = nn.functional.soft_margin_loss(an - ap, y);
        if (!double.IsPositiveInfinity(soft.to(ScalarType.Float64).item<double>())) return soft.MoveToOuterDisposeScope();
        return nn.functional.margin_ranking_loss(an, ap, y, 0.3).MoveToOuterDisposeScope();
    }

    /// <summary>Pairwise circle loss (Sun et al., 2020) on normalised features.</summary>
    public static Tensor Circle(Tensor features, Tensor targets, double margin, double gamma)
    {
        using var scope = NewDisposeScope();
        var (sim, same, diff) = Pairs(features, targets);
        var sP = sim * same;
        var sN = sim * diff;
        var alphaP = nn.functional.relu(-sP.detach() + 1 + margin);
        var alphaN = nn.functional.relu(sN.detach() + margin);
        double deltaP = 1 - margin, deltaN = margin;
        var logitP = -gamma * alphaP * (sP - deltaP) + (-99999999.0) * (1 - same);
        var logitN = gamma * alphaN * (sN - deltaN) + (-99999999.0) * (1 - diff);
        return nn.functional.softplus(logitP.logsumexp(1) + logitN.logsumexp(1)).mean().MoveToOuterDisposeScope();
    }

    /// <summary>Pairwise CosFace loss on normalised features.</summary>
    public static Tensor CosFace(Tensor features, Tensor targets, double margin, double gamma)
    {
        using var scope = NewDisposeScope();
        var (sim, same, diff) = Pairs(features, targets);
        var sP = sim * same;
        var sN = sim * diff;
        var logitP = -gamma * sP + (-99999999.0) * (1 - same);
        var logitN = gamma * (sN + margin) + (-99999999.0) * (1 - diff);
        return nn.functional.softplus(logitP.logsumexp(1) + logitN.logsumexp(1)).mean().MoveToOuterDisposeScope();
    }

    private static (Tensor Sim, Tensor Same, Tensor Diff) Pairs(Tensor features, Tensor targets)
    {
        var x = nn.functional.normalize(features, dim: 1);
        var sim = x.matmul(x.t());
        long n = sim.shape[0];
        var eq = targets.view(n, 1).eq(targets.view(1, n)).to(features.dtype);
        var same = eq - torch.eye(n, dtype: features.dtype, device: features.device); // a sample is not its own positive
        return (sim, same, 1 - eq);
    }

    public static Tensor EuclideanDistance(Tensor x)
    {
        var xx = x.pow(2).sum(1, keepdim: true);
        var d = xx + xx.t() - 2 * x.matmul(x.t());
        return d.clamp(min: 1e-12).sqrt();
    }

    /// <summary><c>2 − 2·cos</c>: the squared Euclidean distance of the L2-normalised features, in [0, 4].</summary>
    private static Tensor CosineDistance(Tensor x)
    {
        var n = nn.functional.normalize(x, dim: 1);
        return 2 - 2 * n.matmul(n.t());
    }

    private static Tensor SoftmaxWeights(Tensor dist, Tensor mask)
    {
        var maxV = (dist * mask).max(1, keepdim: true).values;
        var diff = dist - maxV;
        var z = (diff.exp() * mask).sum(1, keepdim: true) + 1e-6;
        return diff.exp() * mask / z;
    }
}
