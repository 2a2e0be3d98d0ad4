using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>
/// <see cref="ICollectives"/> over TCP on the CPU: a ring of persistent connections (rank r sends to r+1 and
/// receives from r−1), opened once at <see cref="Connect"/> after the ranks exchange their listen addresses
/// through the <see cref="RendezvousStore"/>; the listener then closes, so a call never opens a connection.
/// <para>
/// All-reduce is the bandwidth-optimal ring: the call's tensors are copied into one bucket, split into
/// world-size chunks; W−1 reduce-scatter steps leave each rank one fully reduced chunk, W−1 all-gather steps
/// pass those around, so every rank sends and receives 2(W−1)/W of the bucket. Within a step, segments of
/// <see cref="CollectiveOptions.SegmentBytes"/> are sent while others are received and reduced. Each
/// chunk is reduced in one fixed order, then copied, so all ranks end with the same bits. Broadcast
/// pipelines segments from the root around the ring; all-gather passes each rank's block around it.
/// Failures: see <see cref="RingTransport"/>.
/// </para>
/// </summary>
public sealed class TcpCollectives : ICollectives
{
    private const int HelloMagic = 0x31525246; // "FRR1"
    private readonly RingTransport _ring;
    private readonly RendezvousStore _store;
    private readonly RendezvousServer? _server;

    public int Rank { get; }
    public int WorldSize { get; }
    public TorchSharp.DeviceType TensorDevice => TorchSharp.DeviceType.CPU;
    public int LocalRank { get; }
    /// <summary>The rendezvous store, kept open for backends that exchange more at setup (NCCL's unique id).</summary>
    public RendezvousStore Store => _store;
    internal IReadOnlyList<string> RingEndpoints => _ring.Endpoints;

    private TcpCollectives(int rank, int worldSize, int localRank, RingTransport ring, RendezvousStore store, RendezvousServer? server)
    {
        Rank = rank;
        WorldSize = worldSize;
        LocalRank = localRank;
        _ring = ring;
        _store = store;
        _server = server;
    }

    /// <summary>Joins the ring of <paramref name="worldSize"/> ranks (at least 2) that meet at the master.</summary>
    public static TcpCollectives Connect(int rank, int worldSize, int localRank, string masterAddr, int masterPort, CollectiveOptions options)
    {
        options.Validate();
        if (worldSize < 2) throw new FastReidException($"the tcp ring needs WORLD_SIZE >= 2, got {worldSize}");
        if (rank < 0 || rank >= worldSize) throw new FastReidException($"RANK {rank} is not in [0, {worldSize})");
        var server = rank == 0 ? new RendezvousServer(masterPort) : null;
        RendezvousStore? store = null;
        var sockets = new List<Socket>();
        try
        {
            store = RendezvousStore.Connect(masterAddr, masterPort, options.RendezvousTimeout);
            var next = (rank + 1) % worldSize;
            var prev = (rank - 1 + worldSize) % worldSize;
            var listenAddress = options.ListenAddress is { } a ? IPAddress.Parse(a) : store.LocalAddress;
            using var listener = new Socket(listenAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(listenAddress, 0));
            listener.Listen(1);
            store.Set($"fastreid/ring/{rank}", Encoding.UTF8.GetBytes(listener.LocalEndPoint!.ToString()!));

            var nextEndpoint = IPEndPoint.Parse(Encoding.UTF8.GetString(store.Get($"fastreid/ring/{next}")));
            var toNext = new Socket(nextEndpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            sockets.Add(toNext);
            toNext.Connect(nextEndpoint); // it listens before it announces, so this is immediate
            Span<byte> hello = stackalloc byte[12];
            BinaryPrimitives.WriteInt32LittleEndian(hello, HelloMagic);
            BinaryPrimitives.WriteInt32LittleEndian(hello[4..], rank);
            BinaryPrimitives.WriteInt32LittleEndian(hello[8..], worldSize);
            toNext.Send(hello);

            if (!listener.Poll(options.RendezvousTimeout, SelectMode.SelectRead))
                throw new PeerLostException(prev, $"rank {prev} did not connect to rank {rank} within {options.RendezvousTimeout.TotalSeconds:0.###} s of the rendezvous at {masterAddr}:{masterPort}");
            var fromPrev = listener.Accept();
            fromPrev.NoDelay = true;
            sockets.Add(fromPrev);
            fromPrev.ReceiveTimeout = (int)Math.Min(int.MaxValue, options.RendezvousTimeout.TotalMilliseconds);
            Span<byte> theirs = stackalloc byte[12];
            for (var got = 0; got < 12;)
            {
                var n = fromPrev.Receive(theirs[got..]);
                if (n == 0) throw new PeerLostException(prev, $"rank {prev} closed its ring connection during setup");
                got += n;
            }
            if (BinaryPrimitives.ReadInt32LittleEndian(theirs) != HelloMagic
                || BinaryPrimitives.ReadInt32LittleEndian(theirs[4..]) != prev
                || BinaryPrimitives.ReadInt32LittleEndian(theirs[8..]) != worldSize)
                throw new FastReidException($"rank {rank} expected rank {prev} of {worldSize} on its ring listener, got rank {BinaryPrimitives.ReadInt32LittleEndian(theirs[4..])} of {BinaryPrimitives.ReadInt32LittleEndian(theirs[8..])}: do all ranks share one WORLD_SIZE and MASTER_PORT?");
            foreach (var s in sockets) s.Blocking = false;
            var ring = new RingTransport(rank, new RingLink(toNext, next), new RingLink(fromPrev, prev), options);
            return new TcpCollectives(rank, worldSize, localRank, ring, store, server);
        }
        catch (Exception e)
        {
            foreach (var s in sockets) s.Dispose();
            store?.Dispose();
            server?.Dispose();
            if (e is SocketException se) throw new FastReidException($"rank {rank} could not join the ring of {masterAddr}:{masterPort}: {se.Message}", se);
            throw;
        }
    }

    public void AllReduce(IReadOnlyList<Tensor> tensors, ReduceOp op)
    {
        long total = 0;
        foreach (var t in tensors)
        {
            TensorMemory.RequireReducible(t);
            total += t.numel();
        }
        if (total * sizeof(float) > int.MaxValue) throw new FastReidException($"all-reduce: {total} floats are over the 2 GiB one call can carry; split the call");
        _ring.BeginCall();
        AgreeOnLength("all-reduce", total);
        if (total == 0) return;
        if (tensors.Count == 1)
        {
            // one tensor is its own bucket: reduced where it lies, without two copies of it
            RingAllReduce(TensorMemory.Of(tensors[0], "all-reduce"), op);
            return;
        }
        var bytes = (int)total * sizeof(float);
        var bucket = ArrayPool<byte>.Shared.Rent(bytes);
        try
        {
            var offset = 0;
            foreach (var t in tensors)
            {
                var m = TensorMemory.Of(t, "all-reduce");
                m.Span.CopyTo(bucket.AsSpan(offset));
                offset += m.Length;
            }
            RingAllReduce(bucket.AsMemory(0, bytes), op);
            offset = 0;
            foreach (var t in tensors)
            {
                var m = TensorMemory.Of(t, "all-reduce");
                bucket.AsSpan(offset, m.Length).CopyTo(m.Span);
                offset += m.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bucket);
        }
    }

    private void RingAllReduce(Memory<byte> bucket, ReduceOp op)
    {
        int w = WorldSize, r = Rank;
        long floats = bucket.Length / sizeof(float);
        Memory<byte> Chunk(int c)
        {
            c = ((c % w) + w) % w;
            var start = (int)(c * floats / w) * sizeof(float);
            var end = (int)((c + 1) * floats / w) * sizeof(float);
            return bucket[start..end];
        }
        for (var s = 0; s < w - 1; s++)
        {
            var target = Chunk(r - s - 1);
            _ring.Exchange(Chunk(r - s), target.Length, (offset, segment) =>
                Add(MemoryMarshal.Cast<byte, float>(target.Span.Slice((int)offset, segment.Length)), MemoryMarshal.Cast<byte, float>(segment)));
        }
        if (op == ReduceOp.Mean)
        {
            var owned = MemoryMarshal.Cast<byte, float>(Chunk(r + 1).Span);
            float scale = 1f / w;
            for (var i = 0; i < owned.Length; i++) owned[i] *= scale;
        }
        for (var s = 0; s < w - 1; s++)
        {
            var target = Chunk(r - s);
            _ring.Exchange(Chunk(r + 1 - s), target.Length, (_, _) => { }, receiveInto: target);
        }
    }

    private static void Add(Span<float> into, ReadOnlySpan<float> values)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var into_ = MemoryMarshal.Cast<float, Vector<float>>(into);
            var values_ = MemoryMarshal.Cast<float, Vector<float>>(values);
            for (; i < into_.Length; i++) into_[i] += values_[i];
            i *= Vector<float>.Count;
        }
        for (; i < into.Length; i++) into[i] += values[i];
    }

    public void Broadcast(Tensor tensor, int root)
    {
        if (root < 0 || root >= WorldSize) throw new FastReidException($"broadcast: root {root} is not a rank of {WorldSize}");
        var memory = TensorMemory.Of(tensor, "broadcast");
        _ring.BeginCall();
        AgreeOnLength("broadcast", memory.Length);
        var next = (Rank + 1) % WorldSize;
        if (Rank == root)
        {
            _ring.Exchange(memory, 0, (_, _) => { });
            return;
        }
        _ring.Exchange(ReadOnlyMemory<byte>.Empty, memory.Length, (offset, segment) =>
        {
            if (next != root) _ring.Send(memory.Slice((int)offset, segment.Length));
        }, receiveInto: memory);
    }

    public Tensor AllGather(Tensor tensor)
    {
        TensorMemory.Require(tensor, "all-gather");
        // each rank's dtype and shape first, so a mismatch is an error here and not garbage later
        var header = GatherHeader.Of(tensor);
        var rows = GatherHeader.Rows(AllGatherBytes(header), header, Rank, out var fault);
        if (fault is not null)
        {
            _ring.Fail(fault);
            throw fault;
        }
        var shape = tensor.shape.ToArray();
        shape[0] = rows.Sum();
        var result = empty(shape, tensor.dtype);
        var output = TensorMemory.Of(result, "all-gather");
        var rowBytes = tensor.numel() == 0 && tensor.shape[0] == 0 ? TrailingBytes(tensor) : tensor.numel() / Math.Max(1, tensor.shape[0]) * tensor.element_size();
        var lengths = rows.Select(n => n * rowBytes).ToArray();
        TensorMemory.Of(tensor, "all-gather").Span.CopyTo(output.Span[(int)Offset(lengths, Rank)..]);
        RingAllGather(output, lengths);
        return result;
    }

    private static long TrailingBytes(Tensor t) => t.shape.Skip(1).Aggregate(1L, (a, b) => a * b) * t.element_size();

    public byte[][] AllGatherBytes(ReadOnlySpan<byte> bytes)
    {
        _ring.BeginCall();
        var sizes = new byte[8 * WorldSize];
        BinaryPrimitives.WriteInt64LittleEndian(sizes.AsSpan(8 * Rank), bytes.Length);
        RingAllGather(sizes, [.. Enumerable.Repeat(8L, WorldSize)]);
        var lengths = Enumerable.Range(0, WorldSize).Select(i => BinaryPrimitives.ReadInt64LittleEndian(sizes.AsSpan(8 * i))).ToArray();
        if (lengths.Sum() > int.MaxValue) throw new FastReidException($"all-gather: {lengths.Sum()} bytes in all are over the 2 GiB one call can carry");
        var all = new byte[lengths.Sum()];
        bytes.CopyTo(all.AsSpan((int)Offset(lengths, Rank)));
        RingAllGather(all, lengths);
        return [.. Enumerable.Range(0, WorldSize).Select(i => all.AsSpan((int)Offset(lengths, i), (int)lengths[i]).ToArray())];
    }

    /// <summary>Ring all-gather of per-rank blocks laid out in rank order; this rank's block is in place.</summary>
    private void RingAllGather(Memory<byte> output, long[] lengths)
    {
        int w = WorldSize, r = Rank;
        Memory<byte> Block(int i)
        {
            i = ((i % w) + w) % w;
            return output.Slice((int)Offset(lengths, i), (int)lengths[i]);
        }
        for (var s = 0; s < w - 1; s++)
        {
            var target = Block(r - s - 1);
            _ring.Exchange(Block(r - s), target.Length, (_, _) => { }, receiveInto: target);
        }
    }

    private static long Offset(long[] lengths, int rank) => lengths.Take(rank).Sum();

    public void Barrier()
    {
        _ring.BeginCall();
        // an all-gather completes on a rank only after every rank has sent its block, i.e. entered
        var token = new byte[WorldSize];
        RingAllGather(token, [.. Enumerable.Repeat(1L, WorldSize)]);
    }

    /// <summary>
    /// Each rank compares its length with its predecessor's before any data moves: ranks that disagree would
    /// otherwise leave bytes in the stream and corrupt every later call.
    /// </summary>
    private void AgreeOnLength(string operation, long length)
    {
        var mine = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(mine, length);
        var theirs = new byte[8];
        var prev = (Rank - 1 + WorldSize) % WorldSize;
        _ring.Exchange(mine, 8, (offset, segment) => segment.CopyTo(theirs.AsSpan((int)offset)));
        var other = BinaryPrimitives.ReadInt64LittleEndian(theirs);
        if (other != length)
        {
            var fault = new CollectiveException(prev, $"{operation}: rank {prev} passed {other} elements and rank {Rank} {length}; every rank must pass the same shapes");
            _ring.Fail(fault);
            throw fault;
        }
    }

    /// <summary>
    /// For a backend that moves the data elsewhere (NCCL) and keeps this ring as its control plane: starts a call
    /// and checks, with the predecessor, that every rank passes the same operation length.
    /// </summary>
    internal void BeginControlledCall(string operation, long length)
    {
        _ring.BeginCall();
        AgreeOnLength(operation, length);
    }

    /// <summary>One non-blocking look at both neighbours while another transport carries the call (see <see cref="RingTransport.Watch"/>).</summary>
    internal void WatchPeers() => _ring.Watch();

    /// <summary>Marks the ring failed and tells the neighbours, who relay it (a fault another transport noticed).</summary>
    internal void Fail(CollectiveException fault) => _ring.Fail(fault);

    public void Dispose()
    {
        _ring.Dispose();
        _store.Dispose();
        _server?.Dispose();
    }
}
