using System.Net;
using System.Net.Sockets;
using FastReid.Distributed;

namespace FastReid.Core.Tests.Distributed;

/// <summary>In-process ranks on 127.0.0.1, each on its own thread (a rank blocks in its calls, as a trainer does).</summary>
internal static class RingHarness
{
    public static readonly TimeSpan Overall = TimeSpan.FromSeconds(60);

    public static CollectiveOptions Options(double peerTimeoutSeconds = 60, int segmentBytes = 1 << 20) => new()
    {
        PeerTimeout = TimeSpan.FromSeconds(peerTimeoutSeconds),
        RendezvousTimeout = TimeSpan.FromSeconds(30),
        SegmentBytes = segmentBytes,
        ListenAddress = "127.0.0.1",
    };

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Starts every rank's body on its own thread; each gets its joined collectives.</summary>
    public static Task<T>[] Start<T>(int worldSize, CollectiveOptions options, Func<TcpCollectives, T> body)
    {
        var port = FreePort();
        return [.. Enumerable.Range(0, worldSize).Select(rank => Task.Factory.StartNew(() =>
        {
            using var c = TcpCollectives.Connect(rank, worldSize, rank, "127.0.0.1", port, options);
            return body(c);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))];
    }

    public static async Task<T[]> Run<T>(int worldSize, CollectiveOptions options, Func<TcpCollectives, T> body)
        => await Task.WhenAll(Start(worldSize, options, body)).WaitAsync(Overall);
}
