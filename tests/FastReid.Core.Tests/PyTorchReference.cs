using System.Diagnostics;

namespace FastReid.Core.Tests;

/// <summary>
/// Runs a script of tests/pytorch with Debian's <c>/usr/bin/python3</c> and its python3-torch (the PATH's python may
/// lack torch): real PyTorch as the reference our modules are compared with. <c>make test-deps</c> installs it
/// (tests/pytorch/install.sh).
/// </summary>
internal static class PyTorchReference
{
    private const string Python = "/usr/bin/python3";

    public static string ScriptDir => Path.Combine(TestPaths.RepoRoot, "tests", "pytorch");

    /// <summary>The script's exit code and its stdout and stderr together.</summary>
    public static (int Code, string Output) Run(string script, params string[] args)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ScriptDir };
        start.ArgumentList.Add(Path.Combine(ScriptDir, script));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["OMP_NUM_THREADS"] = "2";
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception) { throw new InvalidOperationException($"{Python} is missing: run bash tests/pytorch/install.sh (`make test-deps` does it)"); }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            var output = stdout + stderr.Result;
            if (output.Contains("ModuleNotFoundError", StringComparison.Ordinal))
                throw new InvalidOperationException($"{Python} lacks PyTorch: run bash tests/pytorch/install.sh (`make test-deps` does it)\n{output}");
            return (process.ExitCode, output);
        }
    }
}
