using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastReid.Core.Tests.Storage;

/// <summary>
/// A loopback HTTP proxy in front of s3rver that fails a share of requests: answers HTTP 500 (with an S3
/// InternalError body), resets the connection before answering, or resets it halfway through the
/// response. It serves one request per connection (it asks the server to close), which keeps the
/// framing trivial and makes every request a separate chance to fail. Faults stop after
/// <see cref="MaxFaults"/>, so a test's worst case is bounded. Bytes pass unchanged, so SigV4
/// signatures (which cover the Host header) still verify at s3rver.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _upstream;
    private readonly Random _random;
    private readonly object _gate = new();
    private readonly List<string> _requests = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public FaultProxy(int upstreamPort, double faultRate, int maxFaults, int seed = 12345)
    {
        _upstream = new IPEndPoint(IPAddress.Loopback, upstreamPort);
        FaultRate = faultRate;
        MaxFaults = maxFaults;
        _random = new Random(seed);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _acceptLoop = AcceptLoopAsync();
    }

    public Uri Endpoint { get; }

    public double FaultRate { get; set; }

    public int MaxFaults { get; set; }

    public int Errors500 { get; private set; }

    public int DroppedBeforeResponse { get; private set; }

    public int DroppedMidResponse { get; private set; }

    public int Faults => Errors500 + DroppedBeforeResponse + DroppedMidResponse;

    /// <summary>Request lines seen ("GET /bucket/key HTTP/1.1"), faulted or not.</summary>
    public IReadOnlyList<string> Requests
    {
        get { lock (_gate) return _requests.ToList(); }
    }

    public void ClearRequests()
    {
        lock (_gate) _requests.Clear();
    }

    private enum Fault { None, Error500, DropBeforeResponse, DropMidResponse }

    private Fault Decide(string requestLine)
    {
        lock (_gate)
        {
            _requests.Add(requestLine);
            if (Faults >= MaxFaults || _random.NextDouble() >= FaultRate) return Fault.None;
            switch (_random.Next(3))
            {
                case 0: Errors500++; return Fault.Error500;
                case 1: DroppedBeforeResponse++; return Fault.DropBeforeResponse;
                default: DroppedMidResponse++; return Fault.DropMidResponse;
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        try
        {
            var (head, leftover) = await ReadHeadAsync(client);
            if (head is null) return;
            var lines = head.Split("\r\n");
            var contentLength = 0L;
            foreach (var line in lines.Skip(1))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    contentLength = long.Parse(line["Content-Length:".Length..].Trim());
                if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase))
                    throw new InvalidOperationException("FaultProxy does not handle chunked request bodies");
            }
            var fault = Decide(lines[0]);
            if (fault == Fault.DropBeforeResponse)
            {
                Reset(client);
                return;
            }
            if (fault == Fault.Error500)
            {
                await SkipAsync(client, contentLength - leftover.Length);
                var isHead = lines[0].StartsWith("HEAD ", StringComparison.Ordinal);
                var body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>injected by FaultProxy</Message><Resource>/</Resource><RequestId>0</RequestId></Error>";
                var response = $"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nContent-Length: {(isHead ? 0 : Encoding.UTF8.GetByteCount(body))}\r\nConnection: close\r\n\r\n{(isHead ? "" : body)}";
                await client.SendAsync(Encoding.UTF8.GetBytes(response));
                client.Shutdown(SocketShutdown.Both);
                return;
            }

            using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await upstream.ConnectAsync(_upstream);
            var rewritten = string.Join("\r\n", lines.Where(l => !l.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase)))
                            + "\r\nConnection: close\r\n\r\n";
            await upstream.SendAsync(Encoding.ASCII.GetBytes(rewritten));
            await upstream.SendAsync(leftover);
            await CopyAsync(client, upstream, contentLength - leftover.Length);

            var buffer = new byte[64 * 1024];
            var first = true;
            while (true)
            {
                var n = await upstream.ReceiveAsync(buffer);
                if (n == 0) break;
                if (first && fault == Fault.DropMidResponse)
                {
                    await client.SendAsync(buffer.AsMemory(0, Math.Max(1, n / 2)));
                    Reset(client);
                    return;
                }
                first = false;
                await client.SendAsync(buffer.AsMemory(0, n));
            }
            client.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // The client went away; nothing to do.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    private static async Task<(string? Head, byte[] Leftover)> ReadHeadAsync(Socket socket)
    {
        var data = new List<byte>();
        var buffer = new byte[8192];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer);
            if (n == 0) return (null, []);
            data.AddRange(buffer.AsSpan(0, n));
            var all = data.ToArray();
            var end = all.AsSpan().IndexOf("\r\n\r\n"u8);
            if (end >= 0)
                return (Encoding.ASCII.GetString(all, 0, end), all[(end + 4)..]);
            if (data.Count > 1 << 20) throw new InvalidOperationException("request head too large");
        }
    }

    private static async Task SkipAsync(Socket socket, long count)
    {
        var buffer = new byte[64 * 1024];
        while (count > 0)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)));
            if (n == 0) return;
            count -= n;
        }
    }

    private static async Task CopyAsync(Socket from, Socket to, long count)
    {
        var buffer = new byte[64 * 1024];
        while (count > 0)
        {
            var n = await from.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)));
            if (n == 0) return;
            await to.SendAsync(buffer.AsMemory(0, n));
            count -= n;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _acceptLoop; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
