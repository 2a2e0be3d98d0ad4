using System.Diagnostics;
using System.Net.Sockets;
using FastReid.Distributed;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Distributed;

public sealed class DistributedFailureTests
{
    [Fact]
    public async Task ARankThatClosesMidCallMakesEveryOtherRankThrowNamingIt()
    {
        // peer timeout far above the test's bound: only the closed connection can end the calls in time
        var options = RingHarness.Options(peerTimeoutSeconds: 120, segmentBytes: 65536);
        var port = RingHarness.FreePort();
        const int world = 4, dying = 2;
        var joined = new TaskCompletionSource<TcpCollectives>(TaskCreationOptions.RunContinuationsAsynchronously);
        var others = new List<Task>();
        for (var rank = 0; rank < world; rank++)
        {
            var r = rank;
            var task = Task.Factory.StartNew(() =>
            {
                var c = TcpCollectives.Connect(r, world, r, "127.0.0.1", port, options);
                if (r == dying) { joined.SetResult(c); return; }
                using (c)
                {
                    var t = ones(2_000_000, dtype: float32);
                    for (var i = 0; ; i++) c.AllReduce([t], ReduceOp.Sum); // until the peer is lost
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (r != dying) others.Add(task);
        }
        // the dying rank joins, sends part of one call, then its process "dies": sockets closed
        var dead = await joined.Task.WaitAsync(RingHarness.Overall);
        var watch = Stopwatch.StartNew();
        dead.Dispose();
        foreach (var t in others)
        {
            var e = await Assert.ThrowsAsync<PeerLostException>(() => t.WaitAsync(RingHarness.Overall));
            Assert.Equal(dying, e.Rank);
            Assert.Contains($"rank {dying}", e.Message);
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task ASilentRankMakesTheOthersThrowAfterThePeerTimeoutNamingIt()
    {
        var options = RingHarness.Options(peerTimeoutSeconds: 2);
        const int silent = 1;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = RingHarness.Start(3, options, c =>
        {
            if (c.Rank == silent) { release.Task.Wait(); return 0; } // connected, never calls
            c.AllReduce([ones(1000)], ReduceOp.Sum);
            return 1;
        });
        try
        {
            foreach (var rank in new[] { 0, 2 })
            {
                var e = await Assert.ThrowsAsync<PeerLostException>(() => tasks[rank].WaitAsync(RingHarness.Overall));
                Assert.Equal(silent, e.Rank);
                Assert.Contains("sent nothing for 2 s", e.Message);
            }
        }
        finally
        {
            release.SetResult();
            await tasks[silent].WaitAsync(RingHarness.Overall);
        }
    }

    [Fact]
    public async Task ARankThatCannotReachTheStoreNamesMasterAddrAndPortAndTheTimeout()
    {
        var port = RingHarness.FreePort(); // nobody listens there
        var options = RingHarness.Options() with { RendezvousTimeout = TimeSpan.FromSeconds(1) };
        var e = await Assert.ThrowsAsync<FastReidException>(() => Task.Run(() => TcpCollectives.Connect(1, 2, 0, "127.0.0.1", port, options)));
        Assert.Contains($"MASTER_ADDR:MASTER_PORT 127.0.0.1:{port}", e.Message);
        Assert.Contains("within 1 s", e.Message);
    }

    [Fact]
    public async Task NoRingListenerIsLeftOpenAfterSetup()
    {
        var endpoints = await RingHarness.Run(2, RingHarness.Options(), c => c.RingEndpoints);
        // the listener each rank announced accepted its one neighbour and closed: a call can never accept another
        var announced = endpoints.Select(e => e[1].Split("->")[0]).ToArray();
        foreach (var address in announced)
        {
            using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
            var error = await Assert.ThrowsAsync<SocketException>(async () => await probe.ConnectAsync(System.Net.IPEndPoint.Parse(address)));
            Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        }
    }

    [Fact]
    public void EnvironmentChecksTheBackendNameAndTheTimeoutVariable()
    {
        var e = Assert.Throws<FastReidException>(() => Collectives.FromEnvironment("gloo", getEnv: _ => null));
        Assert.Contains("allowed: tcp, nccl", e.Message);
        Assert.Throws<FastReidException>(() => CollectiveOptions.FromEnvironment(name => name == CollectiveOptions.TimeoutVariable ? "soon" : null));
        Assert.Equal(TimeSpan.FromSeconds(7), CollectiveOptions.FromEnvironment(name => name == CollectiveOptions.TimeoutVariable ? "7" : null).PeerTimeout);
    }
}
