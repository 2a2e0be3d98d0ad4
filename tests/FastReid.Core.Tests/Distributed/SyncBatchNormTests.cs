using FastReid.Distributed;
using FastReid.Modeling.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Distributed;

/// <summary>
/// SyncBN over two tcp ranks, each with half the batch, against BatchNorm2d on the whole batch.
/// <para>
/// What must match. Each rank's loss is the mean over its own half, L_r = mean(y_r·p_r); the single-process
/// loss is the mean over the whole batch, L = (L_0 + L_1)/2. DDP averages parameter gradients, so
/// (∂L_0/∂γ + ∂L_1/∂γ)/2 = ∂L/∂γ; an input gradient is not averaged: rank r holds ∂(L_0 + L_1)/∂x_r =
/// 2·∂L/∂x_r (W × the single-process gradient of its rows).
/// </para>
/// <para>
/// Tolerance: max |a − e| ≤ 1e-5 · max |e| per tensor. The two sides compute the same function in float32
/// by different arithmetic (libtorch's fused batch norm vs sums of x and x² added across ranks, E[x²] − E[x]²),
/// which differ by a few float32 roundings (ε ≈ 6e-8), somewhat amplified by the variance's cancellation (mean² / var ≈ 2
/// here, input mean 1.5, std 1). Measured here: at most 2.2e-7; the bound leaves room for other CPUs' kernels.
/// </para>
/// </summary>
public sealed class SyncBatchNormTests
{
    private const int World = 2;
    private const double Tolerance = 1e-5;

    private sealed record Case(float[] X, float[] Probe, float[] Weight, float[] Bias, long[] Shape);

    private sealed record Outcome(float[] Y, float[] InputGrad, float[] WeightGrad, float[] BiasGrad, float[] RunningMean, float[] RunningVar, long Batches);

    private static Case MakeCase()
    {
        var g = new Generator(7);
        long[] shape = [8, 3, 4, 5];
        return new Case(
            (randn(shape, generator: g) + 1.5f).data<float>().ToArray(),
            randn(shape, generator: g).data<float>().ToArray(),
            (rand(3, generator: g) + 0.5f).data<float>().ToArray(),
            randn(3, generator: g).data<float>().ToArray(),
            shape);
    }

    /// <summary>Two training steps (forward, backward on the local mean) on rows [from, from + rows) of the case.</summary>
    private static Outcome Train(BatchNorm bn, Case c, long from, long rows)
    {
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            bn.weight.copy_(tensor(c.Weight));
            bn.bias!.copy_(tensor(c.Bias));
        }
        bn.train();
        var x = tensor(c.X).view(c.Shape).narrow(0, from, rows).contiguous().requires_grad_();
        var probe = tensor(c.Probe).view(c.Shape).narrow(0, from, rows);
        bn.forward(x * 0.5f - 1).mean().backward(); // a first step moves the running stats once more
        bn.zero_grad();
        x.grad!.zero_();
        var y = bn.forward(x);
        (y * probe).mean().backward();
        return new Outcome(y.data<float>().ToArray(), x.grad!.data<float>().ToArray(), bn.weight.grad!.data<float>().ToArray(),
            bn.bias!.grad!.data<float>().ToArray(), bn.running_mean!.data<float>().ToArray(), bn.running_var!.data<float>().ToArray(),
            bn.num_batches_tracked!.item<long>());
    }

    private static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        double scale = expected.Max(v => Math.Abs(v)), worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= Tolerance * scale, $"{what}: max error {worst:G3} over {Tolerance:G3} × max |expected| {scale:G3}");
    }

    [Fact]
    public async Task TwoRanksWithHalfABatchEachMatchBatchNormOnTheWholeBatch()
    {
        var c = MakeCase();
        long half = c.Shape[0] / World;
        Outcome single;
        using (var bn = nn.BatchNorm2d(3)) single = Train(bn, c, 0, c.Shape[0]);
        var ranks = await RingHarness.Run(World, RingHarness.Options(), group =>
        {
            using var bn = new SyncBatchNorm(3) { Group = group };
            return Train(bn, c, group.Rank * half, half);
        });

        long perRank = single.Y.Length / World;
        for (var r = 0; r < World; r++)
        {
            AssertClose(single.Y[(int)(r * perRank)..(int)((r + 1) * perRank)], ranks[r].Y, $"rank {r} output");
            AssertClose(single.InputGrad[(int)(r * perRank)..(int)((r + 1) * perRank)].Select(v => v * World).ToArray(), ranks[r].InputGrad, $"rank {r} input gradient (× W)");
            AssertClose(single.RunningMean, ranks[r].RunningMean, $"rank {r} running mean");
            AssertClose(single.RunningVar, ranks[r].RunningVar, $"rank {r} running var");
            Assert.Equal(single.Batches, ranks[r].Batches);
        }
        AssertClose(single.WeightGrad, Average(ranks.Select(o => o.WeightGrad)), "weight gradient (rank average)");
        AssertClose(single.BiasGrad, Average(ranks.Select(o => o.BiasGrad)), "bias gradient (rank average)");

        // each rank on its own, plain BN on its half: what syncBN replaces, and far from the whole batch
        using var local = nn.BatchNorm2d(3);
        var alone = Train(local, c, 0, half);
        var gap = single.Y.Zip(alone.Y, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(gap > 100 * Tolerance * single.Y.Max(v => Math.Abs(v)), $"half-batch BN is only {gap:G3} from the whole batch: the case shows nothing");
    }

    [Fact]
    public void WithoutAGroupOrInEvaluationItIsBatchNorm2dBitForBit()
    {
        var c = MakeCase();
        Outcome plain, sync;
        using (var bn = nn.BatchNorm2d(3)) plain = Train(bn, c, 0, c.Shape[0]);
        using (var bn = new SyncBatchNorm(3)) sync = Train(bn, c, 0, c.Shape[0]);
        Assert.Equal(plain, sync, OutcomeComparer.Instance);

        using var single = new SingleProcessCollectives();
        using (var bn = new SyncBatchNorm(3) { Group = single }) sync = Train(bn, c, 0, c.Shape[0]);
        Assert.Equal(plain, sync, OutcomeComparer.Instance);
    }

    [Fact]
    public async Task EvaluationUsesTheRunningStatisticsWithoutTalkingToTheGroup()
    {
        var c = MakeCase();
        // rank 1 alone evaluates a different number of times: a collective there would stall until the timeout
        var ranks = await RingHarness.Run(World, RingHarness.Options(peerTimeoutSeconds: 5), group =>
        {
            using var bn = new SyncBatchNorm(3) { Group = group };
            using var reference = nn.BatchNorm2d(3);
            bn.eval();
            reference.eval();
            using var _ = no_grad();
            var x = tensor(c.X).view(c.Shape);
            for (var i = 0; i < group.Rank; i++) bn.forward(x);
            return bn.forward(x).data<float>().SequenceEqual(reference.forward(x).data<float>());
        });
        Assert.All(ranks, Assert.True);
    }

    private static float[] Average(IEnumerable<float[]> values)
    {
        var list = values.ToList();
        return [.. Enumerable.Range(0, list[0].Length).Select(i => list.Sum(v => v[i]) / list.Count)];
    }

    private sealed class OutcomeComparer : IEqualityComparer<Outcome>
    {
        public static readonly OutcomeComparer Instance = new();

        public bool Equals(Outcome? a, Outcome? b) => a is not null && b is not null
            && a.Y.SequenceEqual(b.Y) && a.InputGrad.SequenceEqual(b.InputGrad) && a.WeightGrad.SequenceEqual(b.WeightGrad)
            && a.BiasGrad.SequenceEqual(b.BiasGrad) && a.RunningMean.SequenceEqual(b.RunningMean)
            && a.RunningVar.SequenceEqual(b.RunningVar) && a.Batches == b.Batches;

        public int GetHashCode(Outcome o) => o.Batches.GetHashCode();
    }
}
