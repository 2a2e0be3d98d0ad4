using FastReid.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Distributed;

/// <summary>
/// The autograd collectives over two real tcp ranks, each on its own thread: both run forward and backward at
/// once, and each backward blocks in the ring until the other rank's backward reaches it.
/// Values are small integers, so every sum is exact and the expectations hold bit for bit.
/// </summary>
public sealed class DistributedAutogradTests
{
    [Fact]
    public async Task AllReduceSumGivesEveryRankTheSumAndSumsTheGradientOverRanks()
    {
        // rank r: y = Σ_k a_k·x_k, loss_r = Σ y·b_r  ⇒  ∂(Σ_r loss_r)/∂x_r = a_r · Σ_k b_k (not a_r·b_r, the local part)
        static Tensor X(int r) => tensor(new float[] { 1 + r, 2, -3 });
        static Tensor A(int r) => tensor(new float[] { 2, 1 + r, 1 });
        static Tensor B(int r) => tensor(new float[] { r + 1, -1, 2 * r });
        var results = await RingHarness.Run(2, RingHarness.Options(), c =>
        {
            var x = X(c.Rank).requires_grad_();
            var y = DistributedAutograd.AllReduceSum(x * A(c.Rank), c);
            (y * B(c.Rank)).sum().backward();
            return (y: y.data<float>().ToArray(), grad: x.grad!.data<float>().ToArray());
        });
        var sumY = (X(0) * A(0) + X(1) * A(1)).data<float>().ToArray();
        var sumB = B(0) + B(1);
        for (var r = 0; r < 2; r++)
        {
            Assert.Equal(sumY, results[r].y);
            Assert.Equal((A(r) * sumB).data<float>().ToArray(), results[r].grad);
            Assert.NotEqual((A(r) * B(r)).data<float>().ToArray(), results[r].grad); // what a forward-only all-reduce would give
        }
    }

    [Fact]
    public async Task AllGatherConcatenatesUnevenRowsAndReturnsEachRankItsRowsOfTheSummedGradient()
    {
        // rank 0 holds 2 rows, rank 1 holds 3; loss_r = Σ gathered·c_r  ⇒  ∂(Σ_r loss_r)/∂x_r = (c_0 + c_1)[rows of r]
        long[] rows = [2, 3];
        static Tensor X(int r, long n) => arange(n * 2, dtype: float32).view(n, 2) + 10 * r;
        static Tensor C(int r) => arange(10, dtype: float32).view(5, 2) * (r + 1) - 3;
        var results = await RingHarness.Run(2, RingHarness.Options(), c =>
        {
            var x = X(c.Rank, rows[c.Rank]).requires_grad_();
            var gathered = DistributedAutograd.AllGather(x, c);
            (gathered * C(c.Rank)).sum().backward();
            return (gathered: gathered.data<float>().ToArray(), shape: gathered.shape, grad: x.grad!.data<float>().ToArray());
        });
        var expected = cat([X(0, 2), X(1, 3)]).data<float>().ToArray();
        var summed = C(0) + C(1);
        for (var r = 0; r < 2; r++)
        {
            Assert.Equal(new long[] { 5, 2 }, results[r].shape);
            Assert.Equal(expected, results[r].gathered);
            Assert.Equal(summed.narrow(0, r == 0 ? 0 : 2, rows[r]).contiguous().data<float>().ToArray(), results[r].grad);
        }
    }

    [Fact]
    public async Task AllGatherWithoutGradientCarriesIntegerLabels()
    {
        var results = await RingHarness.Run(2, RingHarness.Options(), c =>
            DistributedAutograd.AllGatherNoGrad(tensor(new long[] { c.Rank, 7 + c.Rank }), c).data<long>().ToArray());
        Assert.All(results, r => Assert.Equal(new long[] { 0, 7, 1, 8 }, r));
    }

    [Fact]
    public void WorldSizeOneIsTheIdentityWithoutAGraphNode()
    {
        using var c = new SingleProcessCollectives();
        var x = tensor(new float[] { 1, 2 }).requires_grad_();
        var y = DistributedAutograd.AllReduceSum(x * 3, c);
        var g = DistributedAutograd.AllGather(y, c);
        g.sum().backward();
        Assert.Equal(new float[] { 3, 6 }, g.data<float>().ToArray());
        Assert.Equal(new float[] { 3, 3 }, x.grad!.data<float>().ToArray());
    }
}
