using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace FastReid.Distributed;

/// <summary>
/// One persistent connection to a ring neighbour, non-blocking, driven by <see cref="RingTransport"/>.
/// <para>
/// Bytes travel in frames — <c>[kind:1][length:4][payload]</c> — so that heartbeats and aborts can pass
/// between data segments. Everything that arrives is read at once (data into <see cref="Incoming"/>), so a
/// rank never stops a live neighbour by not reading it, and silence really means the neighbour is not
/// sending: outside a call, stuck, or cut off.
/// </para>
/// </summary>
internal sealed class RingLink(Socket socket, int peerRank) : IDisposable
{
    private enum FrameKind : byte { Data = 1, Heartbeat = 2, Abort = 3 }

    private const int HeaderBytes = 5;
    private const int MaxAbortBytes = 4096;

    private readonly record struct Frame(byte[] Header, ReadOnlyMemory<byte> Payload);

    private readonly Queue<Frame> _outgoing = new();
    private int _sentOfHead; // bytes of the head frame (header and payload) already sent
    private readonly byte[] _readBuffer = new byte[256 * 1024];
    private int _buffered;
    private long _dataLeftInFrame;

    public int PeerRank { get; } = peerRank;
    public Socket Socket { get; } = socket;
    public ByteQueue Incoming { get; } = new();
    public bool HasOutgoing => _outgoing.Count > 0;
    /// <summary>Data (not heartbeats or aborts) is still waiting to go: the call needs this peer to read.</summary>
    public bool HasOutgoingData => _dataFrames > 0;
    private int _dataFrames;
    /// <summary>
    /// Set when the connection closed or broke. Not thrown at once: a neighbour that finished the call and
    /// exited has sent everything this call needs, so only a call that still needs the link fails.
    /// </summary>
    public PeerLostException? Failure { get; private set; }
    public long LastHeardMs { get; set; }
    private long _lastSentMs;

    /// <summary>Queues <paramref name="data"/> as data frames; the memory must stay unchanged until sent.</summary>
    public void EnqueueData(ReadOnlyMemory<byte> data, int segmentBytes)
    {
        while (!data.IsEmpty)
        {
            var n = Math.Min(segmentBytes, data.Length);
            _outgoing.Enqueue(new Frame(Header(FrameKind.Data, n), data[..n]));
            _dataFrames++;
            data = data[n..];
        }
    }

    public void EnqueueHeartbeatIfIdle(long nowMs, long intervalMs)
    {
        if (Failure is null && _outgoing.Count == 0 && nowMs - _lastSentMs >= intervalMs) _outgoing.Enqueue(new Frame(Header(FrameKind.Heartbeat, 0), ReadOnlyMemory<byte>.Empty));
    }

    /// <summary>Replaces whatever has not started going out by an abort naming the rank at fault.</summary>
    public void EnqueueAbort(CollectiveException fault)
    {
        // a frame already begun must be finished, or the peer would read the abort as payload
        Frame? begun = _sentOfHead > 0 ? _outgoing.Peek() : null;
        _outgoing.Clear();
        _dataFrames = 0;
        if (begun is { } frame) _outgoing.Enqueue(frame);
        var message = Encoding.UTF8.GetBytes(fault.Message);
        if (message.Length > MaxAbortBytes - 5) message = message[..(MaxAbortBytes - 5)];
        var payload = new byte[5 + message.Length];
        payload[0] = fault is PeerLostException ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(1), fault.Rank);
        message.CopyTo(payload, 5);
        _outgoing.Enqueue(new Frame(Header(FrameKind.Abort, payload.Length), payload));
    }

    /// <summary>Sends what the socket takes without blocking.</summary>
    public void Flush(long nowMs)
    {
        while (_outgoing.Count > 0 && Failure is null)
        {
            var head = _outgoing.Peek();
            var total = HeaderBytes + head.Payload.Length;
            if (_sentOfHead < total)
            {
                var rest = _sentOfHead < HeaderBytes ? head.Header.AsSpan(_sentOfHead) : head.Payload.Span[(_sentOfHead - HeaderBytes)..];
                var n = Socket.Send(rest, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock) return;
                if (error != SocketError.Success) { Failure = Lost($"the connection to rank {PeerRank} failed ({error})"); return; }
                _lastSentMs = nowMs;
                _sentOfHead += n;
                if (_sentOfHead < total) continue;
            }
            if (_outgoing.Dequeue().Header[0] == (byte)FrameKind.Data && _dataFrames > 0) _dataFrames--;
            _sentOfHead = 0;
        }
    }

    // where the current step wants its next data bytes (see ReceiveInto), and how many of them have arrived
    private Memory<byte> _target;
    public int TargetFilled { get; private set; }

    /// <summary>
    /// Makes the next <c>target.Length</c> data bytes land in <paramref name="target"/>: first what
    /// <see cref="Incoming"/> already holds, then, while the link is inside a data frame with nothing parsed
    /// ahead, straight from the socket, which saves two copies per byte on the ring's hot path.
    /// <see cref="TargetFilled"/> says how far it got.
    /// </summary>
    public void ReceiveInto(Memory<byte> target)
    {
        _target = target;
        TargetFilled = 0;
        FillTargetFromIncoming();
    }

    private void FillTargetFromIncoming()
    {
        var n = (int)Math.Min(Incoming.Count, _target.Length - TargetFilled);
        if (n <= 0) return;
        Incoming.Take(_target.Span.Slice(TargetFilled, n));
        TargetFilled += n;
    }

    /// <summary>Reads everything available; throws on an abort from the peer, records a closed connection.</summary>
    public void Drain(long nowMs)
    {
        while (Failure is null)
        {
            FillTargetFromIncoming();
            int n;
            SocketError error;
            var wanted = _target.Length - TargetFilled;
            if (wanted > 0 && _dataLeftInFrame > 0 && _buffered == 0 && Incoming.Count == 0)
            {
                // inside a data frame with nothing queued before it: these bytes are the target's next ones
                n = Socket.Receive(_target.Span.Slice(TargetFilled, (int)Math.Min(wanted, _dataLeftInFrame)), SocketFlags.None, out error);
                if (error == SocketError.Success && n > 0)
                {
                    LastHeardMs = nowMs;
                    TargetFilled += n;
                    _dataLeftInFrame -= n;
                    continue;
                }
            }
            else n = Socket.Receive(_readBuffer.AsSpan(_buffered), SocketFlags.None, out error);
            if (error == SocketError.WouldBlock) return;
            if (error != SocketError.Success) { Failure = Lost($"rank {PeerRank} broke its connection ({error})"); return; }
            if (n == 0) { Failure = Lost($"rank {PeerRank} closed its connection"); return; }
            LastHeardMs = nowMs;
            _buffered += n;
            Parse();
        }
    }

    private void Parse()
    {
        var pos = 0;
        while (pos < _buffered)
        {
            if (_dataLeftInFrame > 0)
            {
                var n = (int)Math.Min(_dataLeftInFrame, _buffered - pos);
                Incoming.Append(_readBuffer.AsSpan(pos, n));
                _dataLeftInFrame -= n;
                pos += n;
                continue;
            }
            if (_buffered - pos < HeaderBytes) break;
            var kind = (FrameKind)_readBuffer[pos];
            var length = BinaryPrimitives.ReadInt32LittleEndian(_readBuffer.AsSpan(pos + 1));
            if (kind == FrameKind.Data) { _dataLeftInFrame = length; pos += HeaderBytes; }
            else if (kind == FrameKind.Heartbeat) pos += HeaderBytes;
            else if (kind == FrameKind.Abort && length is > 5 and <= MaxAbortBytes)
            {
                if (_buffered - pos < HeaderBytes + length) break;
                throw AbortFrom(_readBuffer.AsSpan(pos + HeaderBytes, length));
            }
            else throw new CollectiveException(PeerRank, $"rank {PeerRank} sent a malformed frame (kind {(byte)kind}, length {length}): not a FastReid ring peer, or a bug");
        }
        _readBuffer.AsSpan(pos, _buffered - pos).CopyTo(_readBuffer);
        _buffered -= pos;
    }

    private static CollectiveException AbortFrom(ReadOnlySpan<byte> payload)
    {
        var rank = BinaryPrimitives.ReadInt32LittleEndian(payload[1..]);
        var message = Encoding.UTF8.GetString(payload[5..]);
        return payload[0] == 1 ? new PeerLostException(rank, message) : new CollectiveException(rank, message);
    }

    private PeerLostException Lost(string message) => new(PeerRank, message);

    private static byte[] Header(FrameKind kind, int length)
    {
        var header = new byte[HeaderBytes];
        header[0] = (byte)kind;
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(1), length);
        return header;
    }

    /// <summary>How long a closing link reads what its peer still has in flight.</summary>
    private const int CloseDrainMs = 250;

    /// <summary>
    /// Closes without a reset: a FIN after what already went out (an abort included), then a bounded read of what
    /// the peer still has in flight. Closing a socket with unread bytes makes the kernel send a reset, and a reset
    /// makes the peer drop what it has not read yet, the abort among them: the peer would then name this rank as
    /// the one lost instead of the rank the abort names.
    /// </summary>
    public void Dispose()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Send);
            var scratch = new byte[64 * 1024];
            var deadline = Environment.TickCount64 + CloseDrainMs;
            while (Environment.TickCount64 < deadline)
            {
                var n = Socket.Receive(scratch, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock) { Socket.Poll(10_000, SelectMode.SelectRead); continue; }
                if (error != SocketError.Success || n == 0) break; // the peer closed too, or is gone
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        Socket.Dispose();
        Incoming.Dispose();
    }
}
