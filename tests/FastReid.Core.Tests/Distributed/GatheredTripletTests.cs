using FastReid.Distributed;
using FastReid.Modeling.Losses;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Distributed;

/// <summary>
/// The triplet loss with a group of two tcp ranks mines over the global batch (FastReID's GatherLayer):
/// a tiny linear embedding, 8 images of 4 identities, each identity split across the ranks so that a rank
/// alone would see only one image of it.
/// <para>
/// Every rank computes the same global loss L; the gather's backward sums the ranks' gradients of each
/// rank's rows, so rank r holds W·∂L/∂θ through its own rows, and DDP's average over ranks is
/// Σ_r ∂L/∂θ through rows of r = ∂L/∂θ, the single-process gradient on the concatenated batch.
/// Tolerance 1e-5 of the largest value: the embedding of 4 rows and of 8 rows are separate float32 matmuls
/// that may round differently; measured here: the losses are equal, the gradients within 1e-7.
/// </para>
/// </summary>
public sealed class GatheredTripletTests
{
    private const int World = 2;
    private const double Tolerance = 1e-5;
    private static readonly long[] Targets = [0, 1, 2, 3, 0, 1, 2, 3];

    private sealed record Outcome(float Loss, float[] WeightGrad);

    private static (float[] X, float[] W) MakeCase()
    {
        var g = new Generator(11);
        return (randn([8, 6], generator: g).data<float>().ToArray(), (randn([4, 6], generator: g) * 0.5f).data<float>().ToArray());
    }

    /// <summary>The loss and the embedding's gradients for rows [from, from + rows); <paramref name="loss"/> is the loss of the embedded rows and their targets.</summary>
    private static Outcome Step((float[] X, float[] W) c, long from, long rows, Func<Tensor, Tensor, Tensor> loss)
    {
        using var scope = NewDisposeScope();
        // no bias: distances do not change when every feature moves by the same vector, so its gradient is 0
        using var embed = nn.Linear(6, 4, hasBias: false);
        using (no_grad()) embed.weight.copy_(tensor(c.W).view(4, 6));
        var x = tensor(c.X).view(8, 6).narrow(0, from, rows);
        var t = tensor(Targets).narrow(0, from, rows);
        var value = loss(embed.forward(x), t);
        value.backward();
        return new Outcome(value.item<float>(), embed.weight.grad!.data<float>().ToArray());
    }

    [Theory]
    [InlineData(false, true, 0.3)]
    [InlineData(true, true, 0.3)]
    [InlineData(false, false, 0.0)]
    public async Task TwoRanksGiveTheLossAndAveragedGradientOfTheConcatenatedBatch(bool normFeat, bool hardMining, double margin)
    {
        var c = MakeCase();
        var single = Step(c, 0, 8, (f, t) => Losses.Triplet(f, t, margin, normFeat, hardMining));
        var ranks = await RingHarness.Run(World, RingHarness.Options(), group =>
            Step(c, group.Rank * 4, 4, (f, t) => Losses.Triplet(f, t, margin, normFeat, hardMining, group)));

        foreach (var r in ranks) Assert.True(Math.Abs(r.Loss - single.Loss) <= Tolerance * Math.Abs(single.Loss), $"loss {r.Loss} vs {single.Loss}");
        AssertClose(single.WeightGrad, Average(ranks.Select(r => r.WeightGrad)), "weight gradient");

        // a rank alone (no group) mines among 4 images without a positive: another loss altogether
        var alone = Step(c, 0, 4, (f, t) => Losses.Triplet(f, t, margin, normFeat, hardMining));
        Assert.True(Math.Abs(alone.Loss - single.Loss) > 100 * Tolerance * Math.Abs(single.Loss));
    }

    [Fact]
    public async Task AGatherWithoutTheBackwardAllReduceWouldScaleTheGradientByOneOverW()
    {
        // the same global loss, but the other rank's rows arrive as constants (a forward-only gather): the
        // averaged gradient is then ∂L/∂θ / W, so the test above would fail without the gather's backward
        var c = MakeCase();
        var single = Step(c, 0, 8, (f, t) => Losses.Triplet(f, t, 0.3, false, true));
        var ranks = await RingHarness.Run(World, RingHarness.Options(), group =>
            Step(c, group.Rank * 4, 4, (f, t) =>
            {
                var all = DistributedAutograd.AllGatherNoGrad(f, group);
                var forwardOnly = cat([all.narrow(0, 0, group.Rank * 4), f, all.narrow(0, (group.Rank + 1) * 4, 8 - (group.Rank + 1) * 4)]);
                return Losses.Triplet(forwardOnly, DistributedAutograd.AllGatherNoGrad(t, group), 0.3, false, true);
            }));
        var averaged = Average(ranks.Select(r => r.WeightGrad));
        AssertClose(single.WeightGrad.Select(v => v / World).ToArray(), averaged, "forward-only gather: gradient / W");
        var gap = single.WeightGrad.Zip(averaged, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(gap > 100 * Tolerance * single.WeightGrad.Max(v => Math.Abs(v)));
    }

    private static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string what)
    {
        double scale = expected.Max(v => Math.Abs(v)), worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(scale > 0, $"{what}: the expected gradient is zero, the case shows nothing");
        Assert.True(worst <= Tolerance * scale, $"{what}: max error {worst:G3} over {Tolerance:G3} × max |expected| {scale:G3}");
    }

    private static float[] Average(IEnumerable<float[]> values)
    {
        var list = values.ToList();
        return [.. Enumerable.Range(0, list[0].Length).Select(i => list.Sum(v => v[i]) / list.Count)];
    }
}
