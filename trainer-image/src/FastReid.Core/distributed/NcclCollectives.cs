using System.Diagnostics;
using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>
/// <see cref="ICollectives"/> on CUDA tensors through NCCL (P/Invoke to <c>libnccl.so.2</c>, see
/// <see cref="NcclLibrary"/>). Written against nccl.h; verified only where a GPU machine has run
/// <c>bench/gpu/nccl-check.sh</c> — no test here can load NCCL.
/// <para>
/// Setup: with WORLD_SIZE > 1 the ranks first join a <see cref="TcpCollectives"/> ring at MASTER_ADDR:MASTER_PORT
/// (the same rendezvous as the tcp backend); rank 0 calls <c>ncclGetUniqueId</c> and hands the 128 bytes to every
/// rank through that <see cref="RendezvousStore"/>; each rank makes its GPU (LOCAL_RANK) current and calls
/// <c>ncclCommInitRank</c>. The tcp ring stays open as the control plane: it carries the small metadata
/// (<see cref="AllGatherBytes"/>, all-gather shapes, <see cref="Barrier"/>), checks before each NCCL call that
/// every rank passes the same length (NCCL would hang or corrupt otherwise), and watches the neighbours while
/// NCCL runs. World size 1 needs no rendezvous: a local unique id and a one-rank communicator.
/// </para>
/// <para>
/// Stream: TorchSharp 0.107 exposes no CUDA stream, and libtorch's default ("current") stream is the legacy
/// default stream, so NCCL's kernels go to the legacy default stream (handle 0): ordered after the kernels that
/// produced the gradients and before those that read the result, with no extra synchronisation.
/// </para>
/// <para>
/// Never hangs: a call enqueues its NCCL work and then polls (<c>cuStreamQuery</c> on that stream) instead of
/// blocking, and between polls reads <c>ncclCommGetAsyncError</c> and the control ring. A neighbour's closed
/// connection or relayed abort ends the call within seconds, a silent rank after
/// <see cref="CollectiveOptions.PeerTimeout"/>, an NCCL error at once; each calls <c>ncclCommAbort</c> (which
/// frees the stream) and throws a <see cref="CollectiveException"/> naming the rank at fault where the control
/// ring knows it (this rank when NCCL itself failed or stalled with every neighbour alive). After that every call
/// rethrows, as with tcp.
/// </para>
/// </summary>
public sealed unsafe class NcclCollectives : ICollectives
{
    private static readonly IntPtr LegacyDefaultStream = IntPtr.Zero;
    /// <summary>How long a call still waits for its GPU work after a neighbour closed: it may have finished the call and exited.</summary>
    private static readonly TimeSpan ClosedPeerGrace = TimeSpan.FromSeconds(2);

    private readonly NcclLibrary _nccl;
    private readonly CudaDriver _cuda;
    private readonly IntPtr _context;
    private readonly TcpCollectives? _control;
    private readonly CollectiveOptions _options;
    private IntPtr _comm;
    private CollectiveException? _fault;

    public int Rank { get; }
    public int WorldSize { get; }
    public int LocalRank { get; }
    public TorchSharp.DeviceType TensorDevice => TorchSharp.DeviceType.CUDA;
    /// <summary>NCCL's version code (e.g. 21803 for 2.18.3).</summary>
    public int NcclVersion { get; }
    public string NcclVersionText => NcclLibrary.Describe(NcclVersion);
    /// <summary>Where tensors must live: <c>cuda:LOCAL_RANK</c>.</summary>
    public Device Device => new(TorchSharp.DeviceType.CUDA, LocalRank);

    private NcclCollectives(int rank, int worldSize, int localRank, NcclLibrary nccl, CudaDriver cuda, IntPtr context, TcpCollectives? control, CollectiveOptions options, int version)
    {
        Rank = rank;
        WorldSize = worldSize;
        LocalRank = localRank;
        _nccl = nccl;
        _cuda = cuda;
        _context = context;
        _control = control;
        _options = options;
        NcclVersion = version;
    }

    /// <summary>
    /// Why this process cannot run NCCL (no CUDA in this libtorch, no GPU for LOCAL_RANK, no driver, no libnccl),
    /// every reason at once, or null when it can. Loads nothing else.
    /// </summary>
    public static string? Unavailable(int localRank, Func<string, string?>? getEnv = null) =>
        Load(localRank, getEnv ?? Environment.GetEnvironmentVariable, out _, out _);

    private static string? Load(int localRank, Func<string, string?> getEnv, out NcclLibrary? nccl, out CudaDriver? driver)
    {
        var problems = new List<string>();
        driver = null;
        if (!TorchSharp.torch.cuda.is_available())
            problems.Add("CUDA is not available to libtorch (a CPU build of the trainer — build with -p:TorchCuda=true — or no GPU visible)");
        else if (TorchSharp.torch.cuda.device_count() is var count && localRank >= count)
            problems.Add($"LOCAL_RANK {localRank} has no GPU: {count} visible (one rank per GPU; check NPROC_PER_NODE and CUDA_VISIBLE_DEVICES)");
        else
        {
            driver = CudaDriver.TryLoad(out var driverProblem);
            if (driver is null) problems.Add(driverProblem);
        }
        nccl = NcclLibrary.TryLoad(getEnv, out var ncclProblem);
        if (nccl is null) problems.Add(ncclProblem);
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    /// <summary>
    /// Opens the communicator of <paramref name="worldSize"/> ranks; <paramref name="masterAddr"/> and
    /// <paramref name="masterPort"/> are used only when <paramref name="worldSize"/> > 1. A process that cannot run
    /// NCCL gets an <see cref="UnsupportedSettingException"/> listing why, before any rendezvous.
    /// </summary>
    public static NcclCollectives Connect(int rank, int worldSize, int localRank, string? masterAddr, int masterPort, CollectiveOptions options, Func<string, string?>? getEnv = null)
    {
        options.Validate();
        if (rank < 0 || rank >= worldSize) throw new FastReidException($"RANK {rank} is not in [0, {worldSize})");
        if (Load(localRank, getEnv ?? Environment.GetEnvironmentVariable, out var nccl, out var cuda) is { } problem)
            throw new UnsupportedSettingException($"collectives backend 'nccl' cannot run in this process: {problem}; use the 'tcp' backend on CPUs");
        var context = cuda!.RetainPrimaryContext(localRank);
        TcpCollectives? control = null;
        try
        {
            cuda.MakeCurrent(context);
            var version = nccl!.Version();
            NcclUniqueId id;
            if (worldSize == 1) nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
            else
            {
                control = TcpCollectives.Connect(rank, worldSize, localRank, masterAddr ?? throw new FastReidException("the nccl backend needs MASTER_ADDR when WORLD_SIZE > 1"), masterPort, options);
                const string key = "fastreid/nccl/unique-id";
                if (rank == 0)
                {
                    nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
                    control.Store.Set(key, new ReadOnlySpan<byte>(id.Internal, NcclUniqueId.Bytes));
                }
                else
                {
                    var bytes = control.Store.Get(key);
                    if (bytes.Length != NcclUniqueId.Bytes) throw new FastReidException($"the rendezvous store holds a {bytes.Length}-byte NCCL id under '{key}', not {NcclUniqueId.Bytes}: another program shares MASTER_PORT?");
                    bytes.CopyTo(new Span<byte>(id.Internal, NcclUniqueId.Bytes));
                }
            }
            var comm = InitRank(nccl, cuda, context, id, rank, worldSize, options.RendezvousTimeout);
            return new NcclCollectives(rank, worldSize, localRank, nccl, cuda, context, control, options, version) { _comm = comm };
        }
        catch
        {
            control?.Dispose();
            cuda.ReleasePrimaryContext(localRank);
            throw;
        }
    }

    /// <summary>
    /// ncclCommInitRank blocks until every rank has joined; it runs on its own thread so that a rank that never
    /// joins ends this one after the rendezvous timeout instead of never (the thread is abandoned; the process is
    /// about to exit).
    /// </summary>
    private static IntPtr InitRank(NcclLibrary nccl, CudaDriver cuda, IntPtr context, NcclUniqueId id, int rank, int worldSize, TimeSpan timeout)
    {
        IntPtr comm = IntPtr.Zero;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                cuda.MakeCurrent(context);
                IntPtr c;
                nccl.Check(nccl.CommInitRank(&c, worldSize, id, rank), $"ncclCommInitRank(rank {rank} of {worldSize})");
                comm = c;
            }
            catch (Exception e) { failure = e; }
        }) { IsBackground = true, Name = "fastreid-nccl-init" };
        thread.Start();
        if (!thread.Join(timeout))
            throw new CollectiveException(rank, $"ncclCommInitRank did not complete on rank {rank} within {timeout.TotalSeconds:0.###} s: some rank did not join NCCL, or NCCL cannot reach it (NCCL_SOCKET_IFNAME, firewalls)");
        if (failure is not null) throw failure;
        return comm;
    }

    public void AllReduce(IReadOnlyList<Tensor> tensors, ReduceOp op)
    {
        long total = 0;
        foreach (var t in tensors)
        {
            Require(t, "all-reduce");
            if (t.dtype != ScalarType.Float32) throw new FastReidException($"all-reduce: takes float32 tensors, got {t.dtype}");
            total += t.numel();
        }
        BeginCall("all-reduce", total);
        if (total == 0) return;
        var avg = op == ReduceOp.Mean && NcclLibrary.HasAvg(NcclVersion);
        var ncclOp = avg ? NcclLibrary.OpAvg : NcclLibrary.OpSum;
        Enqueue("ncclAllReduce", () =>
        {
            Check(_nccl.GroupStart(), "ncclGroupStart");
            foreach (var t in tensors)
            {
                if (t.numel() == 0) continue;
                var p = (void*)TensorMemory.DataPointer(t);
                Check(_nccl.AllReduce(p, p, (nuint)t.numel(), NcclLibrary.Float32, ncclOp, _comm, LegacyDefaultStream), "ncclAllReduce");
            }
            Check(_nccl.GroupEnd(), "ncclGroupEnd"); // only enqueues: completion is awaited below
        });
        Wait("all-reduce");
        if (op == ReduceOp.Mean && !avg)
        {
            // NCCL before 2.10 has no average: the same division on every rank keeps the results identical
            foreach (var t in tensors) t.div_(WorldSize);
        }
    }

    public void Broadcast(Tensor tensor, int root)
    {
        if (root < 0 || root >= WorldSize) throw new FastReidException($"broadcast: root {root} is not a rank of {WorldSize}");
        Require(tensor, "broadcast");
        var type = DataType(tensor, "broadcast");
        BeginCall("broadcast", tensor.numel() * tensor.element_size());
        if (tensor.numel() == 0) return;
        var p = (void*)TensorMemory.DataPointer(tensor);
        Enqueue("ncclBroadcast", () => Check(_nccl.Broadcast(p, p, (nuint)tensor.numel(), type, root, _comm, LegacyDefaultStream), "ncclBroadcast"));
        Wait("broadcast");
    }

    /// <summary>NCCL's all-gather needs equal counts, so uneven shards are padded to the largest and trimmed after.</summary>
    public Tensor AllGather(Tensor tensor)
    {
        Require(tensor, "all-gather");
        var type = DataType(tensor, "all-gather");
        var header = GatherHeader.Of(tensor);
        var rows = GatherHeader.Rows(AllGatherBytes(header), header, Rank, out var fault);
        if (fault is not null) throw Failed(fault);
        var maxRows = rows.Max();
        var shape = tensor.shape.ToArray();
        shape[0] = maxRows * WorldSize;
        var gathered = empty(shape, tensor.dtype, Device);
        var rowElements = tensor.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        var pad = rows[Rank] != maxRows;
        var padded = pad ? zeros([maxRows, .. tensor.shape.Skip(1)], tensor.dtype, Device) : tensor;
        using var _ = pad ? padded : null;
        if (pad && rows[Rank] > 0) padded.narrow(0, 0, rows[Rank]).copy_(tensor);
        BeginCall("all-gather", maxRows * rowElements);
        if (maxRows * rowElements > 0)
        {
            void* send = (void*)TensorMemory.DataPointer(padded), receive = (void*)TensorMemory.DataPointer(gathered);
            Enqueue("ncclAllGather", () => Check(_nccl.AllGather(send, receive, (nuint)(maxRows * rowElements), type, _comm, LegacyDefaultStream), "ncclAllGather"));
            Wait("all-gather");
        }
        if (rows.All(r => r == maxRows)) return gathered;
        using (gathered)
        {
            var parts = Enumerable.Range(0, WorldSize).Select(i => gathered.narrow(0, i * maxRows, rows[i])).ToArray();
            try { return cat(parts, 0); }
            finally { foreach (var p in parts) p.Dispose(); }
        }
    }

    public byte[][] AllGatherBytes(ReadOnlySpan<byte> bytes)
    {
        ThrowIfFailed();
        var copy = bytes.ToArray();
        return _control is null ? [copy] : Controlled(() => _control.AllGatherBytes(copy));
    }

    /// <summary>Every rank has entered (the control ring's barrier); GPU work queued before it is not awaited.</summary>
    public void Barrier()
    {
        ThrowIfFailed();
        if (_control is not null) Controlled(() => { _control.Barrier(); return 0; });
    }

    private void Require(Tensor t, string operation)
    {
        if (t.device_type != TorchSharp.DeviceType.CUDA || t.device_index != LocalRank)
            throw new FastReidException($"{operation}: the nccl collectives take tensors on cuda:{LocalRank} (this rank's GPU), got one on {t.device}");
        if (!t.is_contiguous())
            throw new FastReidException($"{operation}: tensor of shape [{string.Join(", ", t.shape)}] is not contiguous; call .contiguous() and copy the result back");
    }

    private static int DataType(Tensor t, string operation) => t.dtype switch
    {
        ScalarType.Float32 => NcclLibrary.Float32,
        ScalarType.Float64 => NcclLibrary.Float64,
        ScalarType.Float16 => NcclLibrary.Float16,
        ScalarType.BFloat16 => NcclLibrary.BFloat16,
        ScalarType.Int64 => NcclLibrary.Int64,
        ScalarType.Int32 => NcclLibrary.Int32,
        ScalarType.Int8 => NcclLibrary.Int8,
        ScalarType.Byte or ScalarType.Bool => NcclLibrary.Uint8,
        _ => throw new FastReidException($"{operation}: the nccl collectives do not carry {t.dtype} tensors"),
    };

    private void ThrowIfFailed()
    {
        if (_fault is { } fault)
        {
            throw fault is PeerLostException
                ? new PeerLostException(fault.Rank, $"an earlier collective call failed: {fault.Message}", fault)
                : new CollectiveException(fault.Rank, $"an earlier collective call failed: {fault.Message}", fault);
        }
    }

    /// <summary>Rethrows an earlier fault; checks on the control ring that every rank passes <paramref name="length"/>.</summary>
    private void BeginCall(string operation, long length)
    {
        ThrowIfFailed();
        if (_control is not null) Controlled(() => { _control.BeginControlledCall(operation, length); return 0; });
    }

    private T Controlled<T>(Func<T> call)
    {
        try { return call(); }
        catch (CollectiveException e) { throw Failed(e); }
    }

    /// <summary>Records the fault, tells the control ring, aborts the communicator; returns the exception to throw.</summary>
    private CollectiveException Failed(CollectiveException fault)
    {
        if (_fault is null)
        {
            _fault = fault;
            _control?.Fail(fault);
            if (_comm != IntPtr.Zero)
            {
                _nccl.CommAbort(_comm);
                _comm = IntPtr.Zero;
            }
        }
        return fault;
    }

    private void Enqueue(string call, Action enqueue)
    {
        _cuda.MakeCurrent(_context); // NCCL launches on the current device; the caller's thread may not have it
        try { enqueue(); }
        catch (FastReidException e) when (e is not CollectiveException)
        {
            throw Failed(new CollectiveException(Rank, $"rank {Rank}: {call}: {e.Message}", e));
        }
    }

    private void Check(int result, string call) => _nccl.Check(result, call, _comm);

    /// <summary>
    /// Polls until the stream has run the enqueued NCCL work, bounded as the type's summary says.
    /// </summary>
    private void Wait(string operation)
    {
        var watch = Stopwatch.StartNew();
        TimeSpan? closedAt = null;
        CollectiveException? pending = null;
        while (true)
        {
            var state = _cuda.Query(LegacyDefaultStream);
            if (state == CudaDriver.Success)
            {
                if (pending is not null) _fault ??= pending; // the call completed; the next one would need the lost peer
                return;
            }
            if (state != CudaDriver.NotReady)
                throw Failed(new CollectiveException(Rank, $"rank {Rank}: CUDA failed during NCCL {operation}: {_cuda.ErrorString(state)} (CUresult {state})"));
            int async;
            if (_nccl.CommGetAsyncError(_comm, &async) == 0 && async != 0 && async != 7)
                throw Failed(new CollectiveException(Rank, $"rank {Rank}: NCCL {operation} failed: {_nccl.ErrorString(async)}{Detail()}"));
            if (pending is null && _control is not null)
            {
                try { _control.WatchPeers(); }
                catch (CollectiveException e)
                {
                    pending = e;
                    closedAt = watch.Elapsed;
                }
            }
            if (pending is not null && watch.Elapsed - closedAt > ClosedPeerGrace) throw Failed(pending);
            if (watch.Elapsed > _options.PeerTimeout)
                throw Failed(new CollectiveException(Rank, $"rank {Rank}: NCCL {operation} did not complete within {_options.PeerTimeout.TotalSeconds:0.###} s while every neighbour on the control ring was alive: NCCL's own transport is stuck{Detail()}"));
            if (watch.Elapsed < TimeSpan.FromMilliseconds(1)) Thread.SpinWait(64);
            else if (watch.Elapsed < TimeSpan.FromMilliseconds(20)) Thread.Yield();
            else Thread.Sleep(1);
        }
    }

    private string Detail() => _nccl.LastError(_comm) is { Length: > 0 } d ? $" ({d})" : "";

    public void Dispose()
    {
        if (_comm != IntPtr.Zero)
        {
            _cuda.MakeCurrent(_context);
            if (_fault is null) _nccl.CommDestroy(_comm);
            else _nccl.CommAbort(_comm);
            _comm = IntPtr.Zero;
        }
        _control?.Dispose();
        _cuda.ReleasePrimaryContext(LocalRank);
    }
}
