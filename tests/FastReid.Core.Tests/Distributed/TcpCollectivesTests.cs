using FastReid.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Distributed;

public sealed class DistributedTcpCollectivesTests
{
    // integer-valued floats: sums are exact whatever the order, so the ring must match the reference bit for bit
    private static Tensor Values(int rank, int tensorIndex, long n) =>
        (arange(n, dtype: float32) % 97 + rank * 13 + tensorIndex * 5).contiguous();

    [Theory]
    [InlineData(2, ReduceOp.Sum)]
    [InlineData(3, ReduceOp.Mean)]
    [InlineData(4, ReduceOp.Sum)]
    [InlineData(4, ReduceOp.Mean)]
    public async Task AllReduceMatchesLocalReferenceForSizesThatDivideNothing(int worldSize, ReduceOp op)
    {
        long[] sizes = [1, 7, 1_000_003];
        // a 64 KiB segment makes the large tensor span many segments per chunk
        var results = await RingHarness.Run(worldSize, RingHarness.Options(segmentBytes: 65536), c =>
        {
            var tensors = sizes.Select((n, i) => Values(c.Rank, i, n)).ToArray();
            c.AllReduce(tensors, op);
            return tensors.Select(t => t.data<float>().ToArray()).ToArray();
        });
        for (var i = 0; i < sizes.Length; i++)
        {
            var reference = Enumerable.Range(0, worldSize).Select(r => Values(r, i, sizes[i])).Aggregate((a, b) => a + b);
            if (op == ReduceOp.Mean) reference = reference * (1f / worldSize);
            var expected = reference.data<float>().ToArray();
            for (var rank = 0; rank < worldSize; rank++) Assert.Equal(expected, results[rank][i]);
        }
    }

    [Fact]
    public async Task BroadcastFromRootOneOverwritesEveryRankAndReachesAViewInPlace()
    {
        var results = await RingHarness.Run(3, RingHarness.Options(segmentBytes: 4096), c =>
        {
            var whole = full(new long[] { 10_007 }, c.Rank, dtype: int64);
            var view = whole[TensorIndex.Slice(3, 10_003)];
            if (c.Rank == 1) view.copy_(arange(10_000, dtype: int64));
            c.Broadcast(view, root: 1);
            return whole.data<long>().ToArray();
        });
        var expected = Enumerable.Range(0, 10_000).Select(i => (long)i).ToArray();
        for (var rank = 0; rank < 3; rank++)
        {
            Assert.Equal(expected, results[rank][3..10_003]);
            Assert.All(results[rank][..3].Concat(results[rank][10_003..]), v => Assert.Equal(rank, v)); // outside the view untouched
        }
    }

    [Fact]
    public async Task AllGatherConcatenatesUnevenShardsInRankOrder()
    {
        int[] rows = [3, 0, 5, 1];
        var results = await RingHarness.Run(4, RingHarness.Options(segmentBytes: 64), c =>
        {
            var mine = full(new long[] { rows[c.Rank], 4 }, c.Rank, dtype: float32) + arange(4, dtype: float32);
            var all = c.AllGather(mine);
            return (all.shape, all.data<float>().ToArray());
        });
        var expected = rows.SelectMany((n, rank) => Enumerable.Repeat(Enumerable.Range(0, 4).Select(j => (float)(rank + j)), n).SelectMany(x => x)).ToArray();
        foreach (var (shape, values) in results)
        {
            Assert.Equal(new long[] { 9, 4 }, shape);
            Assert.Equal(expected, values);
        }
    }

    [Fact]
    public async Task AllGatherRefusesDifferentTrailingShapesNamingTheRank()
    {
        var tasks = RingHarness.Start(2, RingHarness.Options(), c => c.AllGather(zeros(2, c.Rank == 1 ? 3 : 4)).shape);
        foreach (var t in tasks)
        {
            var e = await Assert.ThrowsAnyAsync<CollectiveException>(() => t.WaitAsync(RingHarness.Overall));
            Assert.Contains("only the first dimension may differ", e.Message);
        }
    }

    [Fact]
    public async Task BarrierReturnsOnlyAfterEveryRankEntered()
    {
        var entered = 0;
        var seenAfter = await RingHarness.Run(3, RingHarness.Options(), c =>
        {
            Interlocked.Increment(ref entered);
            c.Barrier();
            return Volatile.Read(ref entered);
        });
        Assert.All(seenAfter, n => Assert.Equal(3, n));
    }

    [Fact]
    public async Task ManyCallsReuseTheConnectionsOpenedAtSetup()
    {
        var results = await RingHarness.Run(3, RingHarness.Options(), c =>
        {
            var before = c.RingEndpoints;
            var t = ones(100, dtype: float32);
            for (var i = 0; i < 50; i++) c.AllReduce([t], ReduceOp.Mean);
            for (var i = 0; i < 20; i++) c.Barrier();
            return (before, after: c.RingEndpoints, value: t[0].item<float>());
        });
        foreach (var (before, after, value) in results)
        {
            Assert.Equal(before, after);
            Assert.Equal(2, after.Count);
            Assert.Equal(1f, value);
        }
    }

    [Fact]
    public async Task WorldSizeOneIsTheIdentity()
    {
        using var c = new SingleProcessCollectives();
        var t = arange(5, dtype: float32);
        c.AllReduce([t], ReduceOp.Mean);
        c.Broadcast(t, 0);
        c.Barrier();
        Assert.Equal(new float[] { 0, 1, 2, 3, 4 }, c.AllGather(t).data<float>().ToArray());
        Assert.Equal(new float[] { 0, 1, 2, 3, 4 }, t.data<float>().ToArray());
        await Task.CompletedTask;
    }
}
