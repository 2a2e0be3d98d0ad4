using System.Diagnostics;

namespace FastReid.Cli.Tests;

/// <summary>Runs the built <c>fastreid</c> binary (copied next to the tests) as a user would.</summary>
internal static class CliRunner
{
    public static string RepoRoot { get; } = FindRoot();

    public static (int Code, string Out, string Err) Run(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        using var process = Start(env, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(300_000))
        {
            process.Kill(true);
            process.WaitForExit();
            var tail = (stdout.Result + stderr.Result) is var all && all.Length > 6000 ? all[^6000..] : stdout.Result + stderr.Result;
            throw new TimeoutException($"fastreid {string.Join(" ", args)} did not finish in 5 minutes; last output:\n{tail}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts the binary with stdout and stderr redirected; the caller reads them and waits.</summary>
    public static Process Start(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "fastreid"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoRoot,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        // an inherited result file (e.g. the test host's own pod) is not the test's; one the test gives is
        start.Environment.Remove("FASTREID_RESULT_FILE");
        if (env is not null) foreach (var (k, v) in env) start.Environment[k] = v;
        return Process.Start(start)!;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test when it does not within <paramref name="within"/>.</summary>
    public static void WaitUntil(Func<bool> condition, string what, TimeSpan within)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > within) Assert.Fail($"not within {within.TotalSeconds} s: {what}");
            Thread.Sleep(20); // polling interval, not a synchronisation
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastReid.K8s.sln"))) return dir.FullName;
        throw new InvalidOperationException("FastReid.K8s.sln not found above " + AppContext.BaseDirectory);
    }
}
