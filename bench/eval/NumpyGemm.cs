using System.Diagnostics;
using System.Globalization;
using TorchSharp;

/// <summary>
/// numpy_gemm.py in a child process (Debian's /usr/bin/python3 with python3-numpy, OpenBLAS underneath), kept
/// alive so that its products interleave with ours in one run; its time is taken inside the child, without
/// the start or the pipe. OPENBLAS_NUM_THREADS is set to the torch thread count.
/// </summary>
internal sealed class NumpyGemm : IDisposable
{
    private readonly Process _process;

    private NumpyGemm(Process process) => _process = process;

    /// <summary>numpy's BLAS libraries as numpy reports them, from the last start.</summary>
    public static string Blas { get; private set; } = "?";

    /// <summary>Starts the child, or returns null (with a line on stderr) when python3 or numpy is missing.</summary>
    public static NumpyGemm? Start(int queries, int gallery, int dim, int blockRows)
    {
        var python = Environment.GetEnvironmentVariable("FASTREID_BENCH_PYTHON") ?? "/usr/bin/python3";
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "numpy_gemm.py"));
        foreach (var value in new[] { queries, gallery, dim, blockRows }) start.ArgumentList.Add(value.ToString(CultureInfo.InvariantCulture));
        start.Environment["OPENBLAS_NUM_THREADS"] = torch.get_num_threads().ToString(CultureInfo.InvariantCulture);
        Process? process;
        try { process = Process.Start(start); }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"bench eval: no numpy product ({python}: {e.Message})");
            return null;
        }
        var ready = process?.StandardOutput.ReadLine();
        if (process is null || ready is null || !ready.StartsWith("ready", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"bench eval: no numpy product ({python} numpy_gemm.py did not start; apt-get install python3-numpy libopenblas0-pthread)");
            process?.Kill();
            return null;
        }
        Blas = ready["ready".Length..].Trim();
        return new NumpyGemm(process);
    }

    /// <summary>One product; its seconds.</summary>
    public double Run()
    {
        _process.StandardInput.WriteLine("run");
        _process.StandardInput.Flush();
        var line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("numpy_gemm.py ended");
        return double.Parse(line, CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        _process.WaitForExit();
        _process.Dispose();
    }
}
