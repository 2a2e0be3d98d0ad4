using System.Diagnostics;
using System.Text.RegularExpressions;
using k8s;

namespace FastReid.KubeEmulator.Tests;

/// <summary>The standalone kube-emulator: CLI contract (--listen, --kubeconfig, "ready" on stdout), kubectl against it, clean SIGTERM.</summary>
public sealed class StandaloneBinaryTests
{
    [Fact]
    public async Task The_binary_writes_a_kubeconfig_prints_ready_serves_kubectl_and_stops_on_sigterm()
    {
        var dir = Directory.CreateTempSubdirectory("kube-emulator-bin-").FullName;
        var kubeconfig = Path.Combine(dir, "kubeconfig");
        // The emulator assembly is copied next to the tests by the project reference; run it as `make build` publishes it.
        var dll = Path.Combine(AppContext.BaseDirectory, "kube-emulator.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // port 0: the emulator binds a free port itself and names it in its ready line (no window for another process to take it)
        foreach (var a in new[] { dll, "--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        try
        {
            var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Contains("ready", ready);
            var port = new Uri(Regex.Match(ready!, @"http://\S+").Value).Port;
            Assert.NotEqual(0, port);
            Assert.Contains($"server: http://127.0.0.1:{port}", await File.ReadAllTextAsync(kubeconfig));

            var kubectl = new Kubectl(kubeconfig, Path.Combine(dir, "cache"));
            kubectl.Apply(TestManifests.WidgetCrd).Ok();
            kubectl.Run("wait", "--for=condition=Established", "crd/widgets.example.io", "--timeout=10s").Ok();
            kubectl.Apply(TestManifests.Widget("default", "w", 2)).Ok();
            Assert.Equal("2", kubectl.Run("get", "widget", "w", "-o", "jsonpath={.spec.size}").Ok().Stdout);

            var config = k8s.KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
            using var client = new k8s.Kubernetes(config);
            Assert.Contains(client.CoreV1.ListNamespace().Items, n => n.Metadata.Name == "kube-system");

            var second = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { dll, "--listen", $"127.0.0.1:{port}", "--kubeconfig", Path.Combine(dir, "other") }) second.ArgumentList.Add(a);
            using var clash = Process.Start(second)!;
            Assert.True(clash.WaitForExit(20_000));
            Assert.NotEqual(0, clash.ExitCode);
            Assert.Contains("cannot listen", await clash.StandardError.ReadToEndAsync());
        }
        finally
        {
            if (!process.HasExited) Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
        }
        Assert.True(process.WaitForExit(10_000), "kube-emulator did not stop on SIGTERM");
        Assert.Equal(0, process.ExitCode);
        Directory.Delete(dir, recursive: true);
    }
}
