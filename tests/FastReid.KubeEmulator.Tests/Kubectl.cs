using System.Diagnostics;
using System.Text;

namespace FastReid.KubeEmulator.Tests;

/// <summary>The result of one kubectl run.</summary>
public sealed record KubectlResult(int ExitCode, string Stdout, string Stderr)
{
    public KubectlResult Ok()
    {
        Assert.True(ExitCode == 0, $"kubectl failed ({ExitCode}):\n{Stderr}\n{Stdout}");
        return this;
    }

    public KubectlResult Fails()
    {
        Assert.True(ExitCode != 0, $"kubectl unexpectedly succeeded:\n{Stdout}");
        return this;
    }
}

/// <summary>
/// Runs the real kubectl against an emulator through a private kubeconfig and discovery cache, never
/// the user's ~/.kube. Fails with a clear message when kubectl is not installed.
/// </summary>
public sealed class Kubectl(string kubeconfig, string cacheDir)
{
    static readonly Lazy<string?> Binary = new(() =>
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(dir, "kubectl");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    });

    public static string Executable => Binary.Value ?? throw new InvalidOperationException(
        "kubectl is not installed or not on PATH: these tests verify the emulator with the real kubectl client " +
        "(install kubectl v1.32+, e.g. `apt-get install kubectl`).");

    public KubectlResult Run(params string[] args) => RunWithInput(null, args);

    public KubectlResult Apply(string yaml) => RunWithInput(yaml, "apply", "-f", "-");

    public KubectlResult RunWithInput(string? stdin, params string[] args)
    {
        using var process = Start(args, stdin is not null);
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish in 60 s");
        }
        return new KubectlResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts a long-running kubectl (e.g. <c>get -w</c>) whose output is collected until it is stopped.</summary>
    public BackgroundKubectl StartBackground(params string[] args) => new(Start(args, redirectInput: false));

    Process Start(string[] args, bool redirectInput)
    {
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--kubeconfig");
        info.ArgumentList.Add(kubeconfig);
        info.ArgumentList.Add("--cache-dir");
        info.ArgumentList.Add(cacheDir);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["KUBECONFIG"] = kubeconfig;
        info.Environment["HOME"] = Path.GetDirectoryName(kubeconfig)!;
        return Process.Start(info) ?? throw new InvalidOperationException("could not start kubectl");
    }
}

/// <summary>A kubectl process running in the background, its stdout collected line by line.</summary>
public sealed class BackgroundKubectl : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _out = new();
    readonly StringBuilder _err = new();

    internal BackgroundKubectl(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output { get { lock (_out) return _out.ToString(); } }
    public string Errors { get { lock (_err) return _err.ToString(); } }
    public bool HasExited => _process.HasExited;

    /// <summary>Waits until the output satisfies <paramref name="condition"/>; fails with the output so far.</summary>
    public async Task WaitForOutput(Func<string, bool> condition, string what, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition(Output))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for {what}; kubectl printed:\n{Output}\nstderr:\n{Errors}");
            await Task.Delay(25);
        }
    }

    public async Task<int> WaitForExit(int timeoutMs = 10_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
