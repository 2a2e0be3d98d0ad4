using System.Diagnostics;
using System.Text.Json.Nodes;

namespace FastReid.Operator.Tests;

/// <summary>The fastreid-operator executable as a user runs it: kubeconfig, flags, logs, SIGTERM.</summary>
public sealed class ProcessTests
{
    private static string Executable => Path.Combine(AppContext.BaseDirectory, "fastreid-operator.dll");

    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Executable);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment.Remove("KUBECONFIG");
        return Process.Start(start)!;
    }

    [Fact]
    public async Task Runs_against_a_kubeconfig_reconciles_and_stops_cleanly_on_sigterm()
    {
        await using var server = await ScriptedApiServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("op-proc-").FullName;
        try
        {
            var kubeconfig = Path.Combine(dir, "kubeconfig");
            await File.WriteAllTextAsync(kubeconfig, $$"""
                apiVersion: v1
                kind: Config
                clusters:
                - name: scripted
                  cluster: {"server": "{{server.Address}}"}
                users:
                - name: tester
                  user: {"token": "not-a-secret"}
                contexts:
                - name: scripted
                  context: {"cluster": "scripted", "user": "tester"}
                current-context: scripted
                """);
            using var process = Start("run", "--kubeconfig", kubeconfig, "--leader-elect=false", "--metrics-port", "0", "--trainer-image", "registry.local/fastreid:test");
            using var killOnFailure = new Finally(() => { if (!process.HasExited) process.Kill(entireProcessTree: true); });
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            for (int i = 0; i < 1500 && server.StatusPuts.IsEmpty && !process.HasExited; i++) await Task.Delay(20);
            await Task.Delay(300);
            if (process.HasExited) Assert.Fail("the operator exited early: " + await stderr);
            using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await term!.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(wait.Token);

            Assert.Equal(0, process.ExitCode);
            Assert.Contains("/apis/batch/v1/namespaces/team-a/jobs", server.Posts);
            Assert.False(server.StatusPuts.IsEmpty);
            var logs = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(logs, line => JsonNode.Parse(line)); // structured: one JSON object per line
            Assert.Contains(logs, l => l.Contains("caches synced", StringComparison.Ordinal));
            Assert.Contains(logs, l => l.Contains("stopped", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_wrong_flag_exits_2_naming_it()
    {
        using var process = Start("run", "--metrics-port", "eighty");
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--metrics-port must be an integer in [0, 65535], got 'eighty'", stderr);
    }

    private sealed class Finally(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
