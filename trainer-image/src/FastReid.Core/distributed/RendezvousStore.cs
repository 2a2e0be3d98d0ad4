using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastReid.Distributed;

/// <summary>
/// A rank's connection to the rendezvous store at MASTER_ADDR:MASTER_PORT, served by rank 0
/// (<see cref="RendezvousServer"/>).
/// <para>
/// Contract: <see cref="Connect"/> retries until the store answers or the rendezvous timeout passes (pods
/// start in any order, and DNS for the master may lag), then fails with a <see cref="FastReidException"/>
/// naming MASTER_ADDR:MASTER_PORT and the timeout. <see cref="Set"/> stores a value; <see cref="Get"/> waits
/// for a key another rank sets, within what is left of the same timeout. The ring's listen addresses are
/// exchanged here, and a future NCCL backend hands out its 128-byte unique id the same way.
/// </para>
/// <para>Protocol (BinaryWriter encoding): request <c>op:byte key:string [value:int32 length + bytes]</c>; a set
/// is answered by one byte, a get by the value.</para>
/// </summary>
public sealed class RendezvousStore : IDisposable
{
    internal enum Op : byte { Set = 1, Get = 2 }

    private readonly Socket _socket;
    private readonly BinaryReader _reader;
    private readonly BinaryWriter _writer;
    private readonly string _master;
    private readonly TimeSpan _timeout;
    private readonly long _deadline;

    /// <summary>This end of the connection to the master: an address of this host the master's network reaches.</summary>
    public IPAddress LocalAddress => ((IPEndPoint)_socket.LocalEndPoint!).Address;

    private RendezvousStore(Socket socket, string master, TimeSpan timeout, long deadline)
    {
        _socket = socket;
        var stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new BinaryReader(stream, Encoding.UTF8);
        _writer = new BinaryWriter(stream, Encoding.UTF8);
        _master = master;
        _timeout = timeout;
        _deadline = deadline;
    }

    public static RendezvousStore Connect(string masterAddr, int masterPort, TimeSpan timeout)
    {
        var master = $"MASTER_ADDR:MASTER_PORT {masterAddr}:{masterPort}";
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var pause = TimeSpan.FromMilliseconds(50);
        string lastError = "no attempt";
        while (true)
        {
            var left = Left(deadline);
            if (left <= TimeSpan.Zero)
                throw new FastReidException($"cannot reach the rendezvous store at {master} within {Seconds(timeout)} ({lastError}); is rank 0 running, and are MASTER_ADDR and MASTER_PORT right? ({CollectiveOptions.TimeoutVariable} sets the timeout in seconds)");
            Socket? socket = null;
            try
            {
                var address = Dns.GetHostAddresses(masterAddr).OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).First();
                socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                using var cts = new CancellationTokenSource(left);
                socket.ConnectAsync(new IPEndPoint(address, masterPort), cts.Token).AsTask().GetAwaiter().GetResult();
                return new RendezvousStore(socket, master, timeout, deadline);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or InvalidOperationException)
            {
                socket?.Dispose();
                lastError = e.Message;
            }
            var wait = Left(deadline);
            if (wait > TimeSpan.Zero) Thread.Sleep(wait < pause ? wait : pause); // a retry pause, so pods starting out of order meet
            pause = TimeSpan.FromMilliseconds(Math.Min(1000, pause.TotalMilliseconds * 2));
        }
    }

    public void Set(string key, ReadOnlySpan<byte> bytes)
    {
        var value = bytes.ToArray();
        Call(key, () =>
        {
            _writer.Write((byte)Op.Set);
            _writer.Write(key);
            _writer.Write(value.Length);
            _writer.Write(value);
            _writer.Flush();
            _reader.ReadByte();
            return 0;
        }, "set");
    }

    /// <summary>The value of <paramref name="key"/>, waiting until some rank sets it.</summary>
    public byte[] Get(string key)
    {
        return Call(key, () =>
        {
            _writer.Write((byte)Op.Get);
            _writer.Write(key);
            _writer.Flush();
            return _reader.ReadBytes(_reader.ReadInt32());
        }, "wait for");
    }

    private T Call<T>(string key, Func<T> call, string what)
    {
        var left = Left(_deadline);
        var failure = $"{what} key '{key}' at the rendezvous store ({_master}) within {Seconds(_timeout)}";
        if (left <= TimeSpan.Zero) throw new FastReidException($"cannot {failure}: the rendezvous timeout has passed");
        _socket.ReceiveTimeout = _socket.SendTimeout = (int)Math.Max(1, left.TotalMilliseconds);
        try { return call(); }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock })
        {
            throw new FastReidException($"cannot {failure}: the ranks that should set it have not (did they all start?)", e);
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
        {
            throw new FastReidException($"cannot {failure}: the store went away ({e.Message}); rank 0 has probably stopped", e);
        }
    }

    private static TimeSpan Left(long deadline) => TimeSpan.FromSeconds((double)(deadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds:0.###} s";

    public void Dispose()
    {
        _reader.Dispose();
        _writer.Dispose();
        _socket.Dispose();
    }
}
