using System.Diagnostics;

namespace FastReid.Operator.Tests.Packaging;

/// <summary>Paths in the checked-out repository and the real kubectl, for the packaging tests.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastReid.K8s.sln"))) return dir.FullName;
        throw new InvalidOperationException("FastReid.K8s.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs kubectl with a private kubeconfig and cache; returns (exit code, stdout, stderr).</summary>
    public static async Task<(int ExitCode, string Output, string Error)> Kubectl(string kubeconfig, string cacheDir, params string[] args)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["--kubeconfig", kubeconfig, "--cache-dir", cacheDir, .. args]) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start (is it on PATH?)");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>kubectl that must succeed; the failure message carries kubectl's own error.</summary>
    public static async Task<string> KubectlOk(string kubeconfig, string cacheDir, params string[] args)
    {
        var (code, output, error) = await Kubectl(kubeconfig, cacheDir, args);
        Assert.True(code == 0, $"kubectl {string.Join(' ', args)} exited {code}:\n{error}{output}");
        return output;
    }
}
