using System.Diagnostics;

namespace FastReid.Core.Tests;

/// <summary>
/// Runs a script of <c>tests/pytorch/</c> with Debian's <c>/usr/bin/python3</c> (python3-torch,
/// python3-torchvision, python3-pil: installed by <c>make test-deps</c>), the independent reference of the
/// FastReID parity tests. Not the <c>python3</c> on PATH, which may be an interpreter without those packages.
/// </summary>
internal static class PyTorchReference
{
    private const string Python = "/usr/bin/python3";

    public static string Scripts => Path.Combine(TestPaths.RepoRoot, "tests", "pytorch");

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/>; its stdout, or an exception with its stderr.</summary>
    public static string Run(string script, params string[] args)
    {
        if (!File.Exists(Python)) throw new InvalidOperationException($"{Python} not found: run `make test-deps` (tests/pytorch/install.sh)");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Scripts, script));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            var err = stderr.Result;
            var hint = err.Contains("No module named", StringComparison.Ordinal) ? " (run `make test-deps`: tests/pytorch/install.sh)" : "";
            throw new InvalidOperationException($"{script} exited with {process.ExitCode}{hint}:\n{err}");
        }
        return stdout;
    }
}
