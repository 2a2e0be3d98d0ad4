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

    /// <summary>
    /// Starts the binary with stdout and stderr redirected; the caller reads them and waits. It runs with SIGINT's
    /// default handling, as from a terminal: a suite started in the background (<c>nohup make test &amp;</c>) inherits
    /// SIGINT ignored, the runtime then keeps ignoring it, and a Ctrl-C test would see no Ctrl-C at all. <c>env</c>
    /// execs the binary, so the process's id is the binary's.
    /// </summary>
    public static Process Start(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoRoot,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "fastreid"));
        foreach (var a in args) start.ArgumentList.Add(a);
        ClearInherited(start.Environment);
        if (env is not null) foreach (var (k, v) in env) start.Environment[k] = v;
        return Process.Start(start)!;
    }

    /// <summary>
    /// Removes every inherited FASTREID_* and AWS_* variable: a developer's FASTREID_DATASETS, FASTREID_RESULT_FILE
    /// (a test host's own pod) or AWS credentials are not the test's, and would change what the child reads, where it
    /// writes, or which storage it reaches. A test gives the ones it means.
    /// </summary>
    public static void ClearInherited(IDictionary<string, string?> environment)
    {
        foreach (var name in environment.Keys.Where(IsOurs).ToList()) environment.Remove(name);
    }

    private static bool IsOurs(string name) =>
        name.StartsWith("FASTREID_", StringComparison.Ordinal) || name.StartsWith("AWS_", StringComparison.Ordinal);

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
