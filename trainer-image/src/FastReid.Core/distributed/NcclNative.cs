using System.Runtime.InteropServices;

namespace FastReid.Distributed;

/// <summary>NCCL's <c>ncclUniqueId</c>: 128 opaque bytes, passed by value to <c>ncclCommInitRank</c>.</summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
internal unsafe struct NcclUniqueId
{
    public const int Bytes = 128;
    public fixed byte Internal[Bytes];
}

/// <summary>
/// The part of NCCL's C API (nccl.h) the collectives call, bound at run time with <see cref="NativeLibrary"/>
/// rather than <c>[DllImport]</c>, so a missing library is one clear error at setup (never a
/// <see cref="DllNotFoundException"/> in the middle of training) and <see cref="LibraryVariable"/> can point at
/// a copy outside the loader's path (pip's nvidia-nccl, a CUDA toolkit folder).
/// Every function returns <c>ncclResult_t</c>: 0 is success, 7 (<c>ncclInProgress</c>) only for non-blocking
/// communicators, which we do not create.
/// </summary>
internal sealed unsafe class NcclLibrary
{
    public const string LibraryVariable = "FASTREID_NCCL_LIBRARY";
    public const string DefaultName = "libnccl.so.2";

    // ncclDataType_t and ncclRedOp_t values from nccl.h
    public const int Int8 = 0, Uint8 = 1, Int32 = 2, Int64 = 4, Float16 = 6, Float32 = 7, Float64 = 8, BFloat16 = 9;
    public const int OpSum = 0, OpAvg = 4;

    public string Path { get; }
    public readonly delegate* unmanaged<int*, int> GetVersion;
    public readonly delegate* unmanaged<NcclUniqueId*, int> GetUniqueId;
    public readonly delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int> CommInitRank;
    public readonly delegate* unmanaged<IntPtr, int> CommDestroy;
    public readonly delegate* unmanaged<IntPtr, int> CommAbort;
    public readonly delegate* unmanaged<IntPtr, int*, int> CommGetAsyncError;
    public readonly delegate* unmanaged<int, byte*> GetErrorString;
    /// <summary>NCCL ≥ 2.13 only: the detail of the last failure (which peer, which syscall); null before.</summary>
    public readonly delegate* unmanaged<IntPtr, byte*> GetLastError;
    public readonly delegate* unmanaged<void*, void*, nuint, int, int, IntPtr, IntPtr, int> AllReduce;
    public readonly delegate* unmanaged<void*, void*, nuint, int, int, IntPtr, IntPtr, int> Broadcast;
    public readonly delegate* unmanaged<void*, void*, nuint, int, IntPtr, IntPtr, int> AllGather;
    public readonly delegate* unmanaged<int> GroupStart;
    public readonly delegate* unmanaged<int> GroupEnd;

    private NcclLibrary(string path, IntPtr h)
    {
        Path = path;
        GetVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(h, "ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)NativeLibrary.GetExport(h, "ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int>)NativeLibrary.GetExport(h, "ncclCommInitRank");
        CommDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(h, "ncclCommDestroy");
        CommAbort = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(h, "ncclCommAbort");
        CommGetAsyncError = (delegate* unmanaged<IntPtr, int*, int>)NativeLibrary.GetExport(h, "ncclCommGetAsyncError");
        GetErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(h, "ncclGetErrorString");
        GetLastError = NativeLibrary.TryGetExport(h, "ncclGetLastError", out var last) ? (delegate* unmanaged<IntPtr, byte*>)last : null;
        AllReduce = (delegate* unmanaged<void*, void*, nuint, int, int, IntPtr, IntPtr, int>)NativeLibrary.GetExport(h, "ncclAllReduce");
        Broadcast = (delegate* unmanaged<void*, void*, nuint, int, int, IntPtr, IntPtr, int>)NativeLibrary.GetExport(h, "ncclBroadcast");
        AllGather = (delegate* unmanaged<void*, void*, nuint, int, IntPtr, IntPtr, int>)NativeLibrary.GetExport(h, "ncclAllGather");
        GroupStart = (delegate* unmanaged<int>)NativeLibrary.GetExport(h, "ncclGroupStart");
        GroupEnd = (delegate* unmanaged<int>)NativeLibrary.GetExport(h, "ncclGroupEnd");
    }

    /// <summary>Loads NCCL, or returns why it cannot (the caller adds what to do about it).</summary>
    public static NcclLibrary? TryLoad(Func<string, string?> getEnv, out string problem)
    {
        var path = getEnv(LibraryVariable) is { Length: > 0 } p ? p : DefaultName;
        if (!NativeLibrary.TryLoad(path, typeof(NcclLibrary).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out var handle))
        {
            problem = $"NCCL ({path}) cannot be loaded: it is not on the loader's path (LD_LIBRARY_PATH, ldconfig, the trainer's folder); CUDA builds of libtorch and NVIDIA's images ship it, or set {LibraryVariable} to its file";
            return null;
        }
        try
        {
            problem = "";
            return new NcclLibrary(path, handle);
        }
        catch (EntryPointNotFoundException e)
        {
            problem = $"{path} loaded but lacks an NCCL 2 function ({e.Message}); it is too old or not NCCL";
            return null;
        }
    }

    /// <summary>NCCL's version code, e.g. 21803 for 2.18.3 (from 2.9 on: major × 10000 + minor × 100 + patch).</summary>
    public int Version()
    {
        int v;
        Check(GetVersion(&v), "ncclGetVersion");
        return v;
    }

    /// <summary>Version codes changed scheme at 2.9 (major × 1000 + minor × 100 + patch before); ncclAvg came in 2.10.</summary>
    public static bool HasAvg(int versionCode) => versionCode >= 21000;

    public static string Describe(int versionCode) => versionCode >= 20900
        ? $"{versionCode / 10000}.{versionCode / 100 % 100}.{versionCode % 100}"
        : $"{versionCode / 1000}.{versionCode / 100 % 10}.{versionCode % 100}";

    public string ErrorString(int result) => Marshal.PtrToStringUTF8((IntPtr)GetErrorString(result)) ?? $"error {result}";

    public string LastError(IntPtr comm) => GetLastError is null || comm == IntPtr.Zero ? "" : Marshal.PtrToStringUTF8((IntPtr)GetLastError(comm)) ?? "";

    /// <summary>Throws a <see cref="FastReidException"/> naming the call and NCCL's reason when <paramref name="result"/> is not success.</summary>
    public void Check(int result, string call, IntPtr comm = default)
    {
        if (result == 0) return;
        var detail = LastError(comm);
        throw new FastReidException($"{call} failed: {ErrorString(result)} (ncclResult_t {result}){(detail.Length > 0 ? ": " + detail : "")}");
    }
}

/// <summary>
/// The few CUDA driver calls (libcuda.so.1, which every NVIDIA driver installs) that NCCL's callers need and
/// TorchSharp does not expose: make the GPU's primary context — the one libtorch's runtime uses — current, and
/// ask whether a stream has finished without blocking. The driver API rather than libcudart, because
/// libtorch's copy of the runtime carries a hashed, CUDA-version-specific file name, while the driver's name is fixed.
/// </summary>
internal sealed unsafe class CudaDriver
{
    public const int Success = 0, NotReady = 600;

    private readonly delegate* unmanaged<uint, int> _init;
    private readonly delegate* unmanaged<int*, int, int> _deviceGet;
    private readonly delegate* unmanaged<IntPtr*, int, int> _primaryCtxRetain;
    private readonly delegate* unmanaged<int, int> _primaryCtxRelease;
    private readonly delegate* unmanaged<IntPtr, int> _ctxSetCurrent;
    private readonly delegate* unmanaged<IntPtr, int> _streamQuery;
    private readonly delegate* unmanaged<int, byte**, int> _getErrorString;

    private CudaDriver(IntPtr h)
    {
        _init = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(h, "cuInit");
        _deviceGet = (delegate* unmanaged<int*, int, int>)NativeLibrary.GetExport(h, "cuDeviceGet");
        _primaryCtxRetain = (delegate* unmanaged<IntPtr*, int, int>)NativeLibrary.GetExport(h, "cuDevicePrimaryCtxRetain");
        // cuda.h maps the name to its _v2 since CUDA 11; older drivers have only the plain one
        _primaryCtxRelease = (delegate* unmanaged<int, int>)(NativeLibrary.TryGetExport(h, "cuDevicePrimaryCtxRelease_v2", out var release)
            ? release : NativeLibrary.GetExport(h, "cuDevicePrimaryCtxRelease"));
        _ctxSetCurrent = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(h, "cuCtxSetCurrent");
        _streamQuery = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(h, "cuStreamQuery");
        _getErrorString = (delegate* unmanaged<int, byte**, int>)NativeLibrary.GetExport(h, "cuGetErrorString");
    }

    public static CudaDriver? TryLoad(out string problem)
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var handle))
        {
            problem = "the NVIDIA driver's libcuda.so.1 cannot be loaded (no driver in this container or host?)";
            return null;
        }
        try
        {
            problem = "";
            return new CudaDriver(handle);
        }
        catch (EntryPointNotFoundException e)
        {
            problem = $"libcuda.so.1 lacks a driver function ({e.Message})";
            return null;
        }
    }

    /// <summary>Retains device <paramref name="ordinal"/>'s primary context; <see cref="MakeCurrent"/> then binds it to a thread.</summary>
    public IntPtr RetainPrimaryContext(int ordinal)
    {
        Check(_init(0), "cuInit");
        int device;
        Check(_deviceGet(&device, ordinal), $"cuDeviceGet({ordinal})");
        IntPtr context;
        Check(_primaryCtxRetain(&context, device), $"cuDevicePrimaryCtxRetain({ordinal})");
        return context;
    }

    public void ReleasePrimaryContext(int ordinal)
    {
        int device;
        if (_deviceGet(&device, ordinal) == Success) _primaryCtxRelease(device);
    }

    /// <summary>What cudaSetDevice does for the runtime: NCCL reads the current device from it.</summary>
    public void MakeCurrent(IntPtr context) => Check(_ctxSetCurrent(context), "cuCtxSetCurrent");

    /// <summary><see cref="Success"/> when all work queued on <paramref name="stream"/> has finished, <see cref="NotReady"/> while some runs, else an error code.</summary>
    public int Query(IntPtr stream) => _streamQuery(stream);

    public string ErrorString(int result)
    {
        byte* text = null;
        return _getErrorString(result, &text) == Success && text != null ? Marshal.PtrToStringUTF8((IntPtr)text) ?? $"CUresult {result}" : $"CUresult {result}";
    }

    public void Check(int result, string call)
    {
        if (result != Success) throw new FastReidException($"{call} failed: {ErrorString(result)} (CUresult {result})");
    }
}
