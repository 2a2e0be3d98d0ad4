using System.Diagnostics;
using System.Net.Sockets;

namespace FastReid.Distributed;

/// <summary>Receives consecutive pieces of a step's incoming bytes; <paramref name="offset"/> counts from the step's start.</summary>
internal delegate void SegmentSink(long offset, ReadOnlySpan<byte> segment);

/// <summary>
/// The two links of one rank in the ring (to <c>next</c> it sends data, from <c>prev</c> it receives) and the
/// single-threaded loop that moves bytes on both at once, so sending a segment overlaps receiving one.
/// <para>
/// While the loop runs it sends heartbeats on idle links and drains both, and it turns every failure into a
/// <see cref="CollectiveException"/> naming the rank at fault: a closed or broken connection at once, a
/// neighbour that has sent nothing for <see cref="CollectiveOptions.PeerTimeout"/> then. Before the exception
/// leaves, an abort naming that rank goes to both neighbours, who relay it, so ranks whose own neighbours are
/// alive stop too instead of waiting for their own timeout. After a fault every call rethrows it.
/// </para>
/// </summary>
internal sealed class RingTransport(int rank, RingLink next, RingLink prev, CollectiveOptions options) : IDisposable
{
    private static readonly TimeSpan AbortFlushLimit = TimeSpan.FromSeconds(1);

    private readonly int _segmentBytes = Math.Max(8, options.SegmentBytes / 8 * 8);
    private readonly long _timeoutMs = (long)options.PeerTimeout.TotalMilliseconds;
    private readonly long _heartbeatMs = (long)options.HeartbeatInterval.TotalMilliseconds;
    private readonly byte[] _scratch = new byte[Math.Max(8, options.SegmentBytes / 8 * 8)];
    private readonly List<Socket> _readable = new(2);
    private readonly List<Socket> _writable = new(2);
    private readonly RingLink[] _links = [next, prev];
    private CollectiveException? _fault;

    /// <summary>Local and remote end of each link, to <c>next</c> then from <c>prev</c> (diagnostics and tests).</summary>
    public IReadOnlyList<string> Endpoints => [.. _links.Select(l => $"{l.Socket.LocalEndPoint}->{l.Socket.RemoteEndPoint}")];

    private static long NowMs => Stopwatch.GetTimestamp() * 1000 / Stopwatch.Frequency;

    /// <summary>Starts a call: rethrows an earlier fault, and gives every neighbour a full timeout to show up.</summary>
    public void BeginCall()
    {
        if (_fault is { } fault)
        {
            throw fault is PeerLostException
                ? new PeerLostException(fault.Rank, $"an earlier collective call failed: {fault.Message}", fault)
                : new CollectiveException(fault.Rank, $"an earlier collective call failed: {fault.Message}", fault);
        }
        var now = NowMs;
        foreach (var link in _links) link.LastHeardMs = now;
    }

    /// <summary>Queues bytes for <c>next</c>; the memory must stay unchanged until the step's end.</summary>
    public void Send(ReadOnlyMemory<byte> bytes) => next.EnqueueData(bytes, _segmentBytes);

    /// <summary>
    /// One ring step: sends <paramref name="send"/> to <c>next</c> while it receives
    /// <paramref name="receiveBytes"/> from <c>prev</c>, handing each segment to <paramref name="sink"/> as it
    /// arrives. With <paramref name="receiveInto"/> the bytes land there (the sink then only hears where);
    /// otherwise in a scratch segment the sink reads. Returns when both are done (sent means handed to the kernel).
    /// </summary>
    public void Exchange(ReadOnlyMemory<byte> send, long receiveBytes, SegmentSink sink, Memory<byte> receiveInto = default)
    {
        Send(send);
        long received = 0;
        var direct = !receiveInto.IsEmpty;
        if (direct && receiveInto.Length < receiveBytes) throw new ArgumentException("the receive target is smaller than the step", nameof(receiveInto));
        while (received < receiveBytes)
        {
            var want = (int)Math.Min(_segmentBytes, receiveBytes - received);
            var target = direct ? receiveInto.Slice((int)received, want) : _scratch.AsMemory(0, want);
            prev.ReceiveInto(target);
            Pump(() => prev.TargetFilled == want, needPrev: true);
            prev.ReceiveInto(Memory<byte>.Empty);
            sink(received, target.Span);
            received += want;
        }
        Pump(() => !next.HasOutgoingData, needPrev: false);
    }

    /// <summary>
    /// One non-blocking pass while the call's data moves on another transport (NCCL) and this ring only watches:
    /// drains and heartbeats both links, and throws, as <see cref="Pump"/> would, when a neighbour closed its
    /// connection, relayed an abort, or sent nothing for the peer timeout. Both neighbours count as needed, since
    /// the other transport's call involves every rank.
    /// </summary>
    public void Watch()
    {
        if (_fault is { } earlier) throw earlier;
        try
        {
            var now = NowMs;
            foreach (var link in _links)
            {
                link.Drain(now);
                link.Flush(now);
            }
            foreach (var link in _links)
            {
                if (link.Failure is { } lost) throw lost;
                if (now - link.LastHeardMs > _timeoutMs)
                    throw new PeerLostException(link.PeerRank, $"rank {link.PeerRank} sent nothing for {options.PeerTimeout.TotalSeconds:0.###} s during a collective (it left the collective, stopped, or is cut off); noticed by rank {rank}");
                link.EnqueueHeartbeatIfIdle(now, _heartbeatMs);
                link.Flush(now);
            }
        }
        catch (CollectiveException fault)
        {
            Fail(fault);
            throw;
        }
        catch (SocketException e)
        {
            throw SocketFault(e);
        }
    }

    /// <summary>A socket error of this rank's ring, as the failure every later call rethrows.</summary>
    private CollectiveException SocketFault(SocketException e)
    {
        var fault = new CollectiveException(rank, $"rank {rank}: ring socket error {e.SocketErrorCode}: {e.Message}", e);
        Fail(fault);
        return fault;
    }

    /// <summary>Marks the transport failed (a rank disagreed) and tells the neighbours; the caller throws.</summary>
    public void Fail(CollectiveException fault)
    {
        if (_fault is not null) return;
        _fault = fault;
        foreach (var link in _links) link.EnqueueAbort(fault);
        var deadline = NowMs + (long)Math.Min(AbortFlushLimit.TotalMilliseconds, _timeoutMs);
        // best effort: a neighbour that is gone cannot take it, and must not delay the error
        foreach (var link in _links)
        {
            try
            {
                while (link.HasOutgoing && NowMs < deadline)
                {
                    link.Flush(NowMs);
                    if (!link.HasOutgoing) break;
                    _writable.Clear();
                    _writable.Add(link.Socket);
                    Socket.Select(null, _writable, null, 20_000);
                }
            }
            catch (Exception e) when (e is CollectiveException or SocketException or ObjectDisposedException) { }
        }
    }

    /// <summary>
    /// Moves bytes until <paramref name="done"/>. A neighbour's loss or silence fails the call only while the call
    /// needs it — <c>prev</c> while data from it is awaited, <c>next</c> while data for it is unsent — because a
    /// neighbour that has finished this call may already be busy elsewhere or have exited.
    /// </summary>
    private void Pump(Func<bool> done, bool needPrev)
    {
        try
        {
            while (true)
            {
                var now = NowMs;
                foreach (var link in _links)
                {
                    link.Drain(now);
                    link.Flush(now);
                }
                if (done()) return;
                foreach (var link in _links)
                {
                    var needed = link == prev ? needPrev : link.HasOutgoingData;
                    if (needed && link.Failure is { } lost) throw lost;
                    if (needed && now - link.LastHeardMs > _timeoutMs)
                        throw new PeerLostException(link.PeerRank, $"rank {link.PeerRank} sent nothing for {options.PeerTimeout.TotalSeconds:0.###} s (it left the collective, stopped, or is cut off); noticed by rank {rank}");
                    link.EnqueueHeartbeatIfIdle(now, _heartbeatMs);
                    link.Flush(now);
                }
                _readable.Clear();
                _writable.Clear();
                foreach (var link in _links)
                {
                    if (link.Failure is null) _readable.Add(link.Socket);
                    if (link.HasOutgoing) _writable.Add(link.Socket);
                }
                var waitMs = Math.Clamp(Math.Min(_heartbeatMs, 100), 1, 100);
                Socket.Select(_readable, _writable.Count > 0 ? _writable : null, null, (int)waitMs * 1000);
            }
        }
        catch (CollectiveException fault)
        {
            Fail(fault);
            throw;
        }
        catch (SocketException e)
        {
            throw SocketFault(e);
        }
    }

    public void Dispose()
    {
        foreach (var link in _links) link.Dispose();
    }
}
