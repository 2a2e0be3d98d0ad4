using System.Runtime.InteropServices;
using TorchSharp;

namespace FastReid.Evaluation;

/// <summary>
/// The float32 products C = α·A·Bᵀ + β·C behind every distance block, for row-major matrices in
/// managed arrays. Through OpenBLAS's cblas_sgemm when libopenblas.so.0 loads (Debian's
/// libopenblas0-pthread), else through libtorch's addmm. On this project's 2-core AMD EPYC bench
/// machine OpenBLAS's sgemm is ~1.5x faster than the MKL inside libtorch's CPU build (see
/// bench/results/eval.json), which is why the evaluator does not leave the product to libtorch.
/// OpenBLAS is set to one thread and the callers run <see cref="Workers"/> products at once, each
/// followed by the scan of its own rows: no thread pool spins while the other side works, and
/// a worker's block stays in its core's cache. Set FASTREID_BLAS_LIBRARY to another OpenBLAS
/// file, or to "none" to use libtorch only.
/// </summary>
internal sealed unsafe class RowProducts
{
    public const string LibraryVariable = "FASTREID_BLAS_LIBRARY";
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;

    private RowProducts(IntPtr sgemm, string backend, int workers)
    {
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
        Backend = backend;
        Workers = workers;
    }

    /// <summary>The products this process uses: OpenBLAS when it loads, libtorch otherwise.</summary>
    public static RowProducts Default => Shared.Value;

    private static readonly Lazy<RowProducts> Shared = new(() => Load(Environment.GetEnvironmentVariable(LibraryVariable)));

    /// <summary>libtorch's addmm only, as on a machine without OpenBLAS.</summary>
    public static RowProducts Torch { get; } = new(IntPtr.Zero, "libtorch", Math.Max(1, torch.get_num_threads()));

    /// <summary>"openblas (PATH)" or "libtorch".</summary>
    public string Backend { get; }

    /// <summary>How many products callers should run at once (the torch thread count).</summary>
    public int Workers { get; }

    internal static RowProducts Load(string? setting)
    {
        if (setting == "none") return Torch;
        var path = string.IsNullOrEmpty(setting) ? "libopenblas.so.0" : setting;
        if (!NativeLibrary.TryLoad(path, out var handle)
            || !NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var sgemm)
            || !NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var setThreads))
            return Torch;
        ((delegate* unmanaged<int, void>)setThreads)(1);
        return new RowProducts(sgemm, $"openblas ({path})", Torch.Workers);
    }

    /// <summary>
    /// output[r·cols + c] = α·(a row aRow0 + r)·(b row bRow0 + c) + β·output[r·cols + c] for r &lt; rows, c &lt; cols;
    /// rows of a and b have dim entries. Safe to call from several threads at once.
    /// </summary>
    public void Multiply(float[] a, int aRow0, int rows, float[] b, int bRow0, int cols, int dim,
        float[] output, float alpha, float beta)
    {
        if ((long)rows * cols > output.Length) throw new ArgumentException("output too small for the product", nameof(output));
        if (rows == 0 || cols == 0) return;
        if (_sgemm is null)
        {
            MultiplyTorch(a, aRow0, rows, b, bRow0, cols, dim, output, alpha, beta);
            return;
        }
        fixed (float* pa = &a[(long)aRow0 * dim], pb = &b[(long)bRow0 * dim], pc = output)
            _sgemm(RowMajor, NoTrans, Trans, rows, cols, dim, alpha, pa, dim, pb, dim, beta, pc, cols);
    }

    private static void MultiplyTorch(float[] a, int aRow0, int rows, float[] b, int bRow0, int cols, int dim,
        float[] output, float alpha, float beta)
    {
        using var scope = torch.NewDisposeScope();
        var left = torch.from_array(a).view(-1, dim).narrow(0, aRow0, rows);
        var right = torch.from_array(b).view(-1, dim).narrow(0, bRow0, cols);
        var result = torch.from_array(output).narrow(0, 0, (long)rows * cols).view(rows, cols);
        result.addmm_(left, right.t(), beta: beta, alpha: alpha);
    }

    /// <summary>
    /// Runs body(start, count, worker) over [0, total) in chunks of at most chunk items, on
    /// <see cref="Workers"/> threads that take the next chunk as they finish one; worker is in [0, Workers).
    /// </summary>
    public void ForEachChunk(int total, int chunk, Action<int, int, int> body)
    {
        int next = 0;
        int workers = Math.Max(1, Math.Min(Workers, (total + chunk - 1) / Math.Max(chunk, 1)));
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker =>
        {
            for (int start; (start = Interlocked.Add(ref next, chunk) - chunk) < total;)
                body(start, Math.Min(chunk, total - start), worker);
        });
    }
}
