using System.Diagnostics;
using System.Text.Json.Nodes;

namespace FastReid.Operator.Tests;

/// <summary>The fastreid-operator executable as a user runs it: kubeconfig, flags, logs, SIGTERM.</summary>
public sealed class ProcessTests
{
    private static string Executable => Path.Combine(AppContext.BaseDirectory, "fastreid-operator.dll");

    private static string Kubeconfig(string server) => $$"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: scripted
          cluster: {"server": "{{server}}"}
        users:
        - name: tester
          user: {"token": "not-a-secret"}
        contexts:
        - name: scripted
          context: {"cluster": "scripted", "user": "tester"}
        current-context: scripted
        """;

    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Executable);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        // what the operator reads from its environment (KUBECONFIG, POD_NAMESPACE, POD_NAME) and the developer's
        // FASTREID_* / AWS_* settings are not this test's
        foreach (var name in start.Environment.Keys.Where(k => k is "KUBECONFIG" or "POD_NAMESPACE" or "POD_NAME"
                     || k.StartsWith("FASTREID_", StringComparison.Ordinal) || k.StartsWith("AWS_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
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
            await File.WriteAllTextAsync(kubeconfig, Kubeconfig(server.Address));
            using var process = Start("run", "--kubeconfig", kubeconfig, "--leader-elect=false", "--metrics-port", "0", "--trainer-image", "registry.local/fastreid:test");
            using var killOnFailure = new Finally(() => { if (!process.HasExited) process.Kill(entireProcessTree: true); });
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            const string jobs = "/apis/batch/v1/namespaces/team-a/jobs";
            for (int i = 0; i < 1500 && (server.StatusPuts.IsEmpty || !server.Posts.Contains(jobs)) && !process.HasExited; i++) await Task.Delay(20); // polling interval
            if (process.HasExited) Assert.Fail("the operator exited early: " + await stderr);
            using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await term!.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(wait.Token);

            Assert.Equal(0, process.ExitCode);
            Assert.Contains(jobs, server.Posts);
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
    public async Task Twenty_experiments_through_three_sigkills_end_with_exactly_one_job_each()
    {
        await using var server = await ScriptedApiServer.StartAsync(experiments: 20);
        var dir = Directory.CreateTempSubdirectory("op-kill-").FullName;
        try
        {
            var kubeconfig = Path.Combine(dir, "kubeconfig");
            await File.WriteAllTextAsync(kubeconfig, Kubeconfig(server.Address));
            int Jobs() => server.Created.Keys.Count(k => k.StartsWith("/apis/batch/v1/namespaces/team-a/jobs/", StringComparison.Ordinal));
            for (int round = 0; round < 4; round++)
            {
                using var process = Start("run", "--kubeconfig", kubeconfig, "--leader-elect=false", "--metrics-port", "0", "--workers", "1");
                using var killOnFailure = new Finally(() => { if (!process.HasExited) process.Kill(entireProcessTree: true); });
                _ = process.StandardOutput.ReadToEndAsync();
                _ = process.StandardError.ReadToEndAsync();
                int before = Jobs(), posts = server.Posts.Count;
                // Kill each of the first three runs as soon as it has done something; let the fourth finish.
                for (int i = 0; i < 1500 && (round < 3 ? server.Posts.Count == posts : Jobs() < 20); i++) await Task.Delay(10);
                if (round == 3) Assert.Equal(20, Jobs());
                process.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
                await process.WaitForExitAsync();
                Assert.True(Jobs() >= before);
            }
            Assert.True(server.AlreadyExists > 0, "restarted operators planned the same names again"); // and were told they exist
            Assert.Equal(20, server.Created.Keys.Count(k => k.Contains("/jobs/", StringComparison.Ordinal)));
            Assert.Equal(20, server.Created.Keys.Count(k => k.Contains("/services/", StringComparison.Ordinal)));
            Assert.Equal(20, server.Created.Keys.Count(k => k.Contains("/configmaps/", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<string> Kubectl(string kubeconfig, string cacheDir, params string[] args)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["--kubeconfig", kubeconfig, "--cache-dir", cacheDir, .. args]) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', args)}: {error}");
        return output;
    }

    [Fact]
    public async Task Against_the_emulator_twenty_experiments_applied_with_kubectl_survive_three_sigkills_with_one_job_each()
    {
        await using var kube = await FastReid.KubeEmulator.KubeEmulatorServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("op-emu-").FullName;
        try
        {
            var kubeconfig = kube.WriteKubeconfig(Path.Combine(dir, "kubeconfig"));
            var cache = Path.Combine(dir, "cache");
            var crds = Path.Combine(dir, "crds");
            Assert.Equal(0, Crds.CrdCommand.Run(["--output", crds], new StringWriter(), new StringWriter()));
            await Kubectl(kubeconfig, cache, "apply", "-f", crds);
            var manifests = string.Join("---\n", Enumerable.Range(1, 20).Select(i => $"""
                apiVersion: fastreid.io/v1alpha1
                kind: ReidExperiment
                metadata:
                  name: sweep-{i:00}
                  namespace: default
                spec:
                  dataset: {"{"}name: Synthetic, synthetic: {"{"}identities: 40, seed: {i}{"}"}{"}"}
                  config:
                    SOLVER: {"{"}MAX_EPOCH: {i}{"}"}
                  resources: {"{"}nodes: {1 + i % 2}, cpu: "2", memory: 4Gi{"}"}
                  output: {"{"}uri: pvc://data/out/sweep-{i:00}{"}"}

                """));
            await File.WriteAllTextAsync(Path.Combine(dir, "experiments.yaml"), manifests);
            await Kubectl(kubeconfig, cache, "apply", "-f", Path.Combine(dir, "experiments.yaml"));

            async Task<int> Jobs() => int.Parse((await Kubectl(kubeconfig, cache, "get", "jobs", "-n", "default", "--no-headers", "-o", "name")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
            for (int round = 0; round < 4; round++)
            {
                // Without the Lease: a SIGKILLed holder would make each successor wait out the lease (15 s).
                using var process = Start("run", "--kubeconfig", kubeconfig, "--metrics-port", "0", "--leader-elect=false");
                using var killOnFailure = new Finally(() => { if (!process.HasExited) process.Kill(entireProcessTree: true); });
                _ = process.StandardOutput.ReadToEndAsync();
                _ = process.StandardError.ReadToEndAsync();
                int before = await Jobs();
                for (int i = 0; i < 300 && (round < 3 ? await Jobs() == before && before < 20 : await Jobs() < 20); i++) await Task.Delay(100);
                process.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
                await process.WaitForExitAsync();
            }
            var jobs = (await Kubectl(kubeconfig, cache, "get", "jobs", "-n", "default", "-o", "json"));
            var owners = JsonNode.Parse(jobs)!["items"]!.AsArray()
                .Select(j => j!["metadata"]!["ownerReferences"]![0]!["name"]!.GetValue<string>()).ToList();
            Assert.Equal(20, owners.Count);
            Assert.Equal(20, owners.Distinct().Count());
            var table = await Kubectl(kubeconfig, cache, "get", "rexp", "-n", "default");
            Assert.Contains("PHASE", table);
            Assert.Contains("sweep-01", table);
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
