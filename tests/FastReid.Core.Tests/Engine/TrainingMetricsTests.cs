using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FastReid.Engine;

namespace FastReid.Core.Tests.Engine;

public sealed class TrainingMetricsTests
{
    [Fact]
    public async Task Training_gauges_are_served_in_the_prometheus_format()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var metrics = TrainingMetrics.Serve(port, new ProgressReporter(TextWriter.Null, interactive: false));
        metrics.Iteration(new Dictionary<string, double> { ["loss_cls"] = 2.0, ["loss_kd"] = 0.5 }, lr: 3.5e-4, imagesPerSecond: 140, epoch: 3);
        metrics.Position(maxEpoch: 10, iteration: 37, maxIteration: 100, eta: TimeSpan.FromSeconds(63));
        metrics.Evaluated(2, new FastReid.Evaluation.ReidMetrics(0.81, 0.9, 0.95, 0.97, 0.5, null));
        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://localhost:{port}/metrics");
        Assert.Contains("fastreid_train_loss 2.5", text);
        Assert.Contains("fastreid_train_loss_term{term=\"loss_kd\"} 0.5", text);
        Assert.Contains("fastreid_train_loss_term{term=\"loss_cls\"} 2", text);
        Assert.Contains("fastreid_train_epoch 3", text);
        Assert.Contains("fastreid_eval_map 0.81", text);
        Assert.Contains("fastreid_eval_rank1 0.9", text);
        Assert.Contains("fastreid_eval_epoch 2", text);
        Assert.Contains("fastreid_train_max_epoch 10", text);
        Assert.Contains("fastreid_train_iteration 37", text);
        Assert.Contains("fastreid_train_max_iteration 100", text);
        Assert.Contains("fastreid_train_eta_seconds 63", text);

        // promtool (Debian's prometheus package, installed by make test) checks the exposition format
        var start = new ProcessStartInfo("promtool") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        Process promtool;
        try { promtool = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception) { throw new InvalidOperationException("promtool is not installed: run `make test-deps` (apt package prometheus)"); }
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        var problems = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        Assert.True(promtool.ExitCode == 0, problems);
    }
}
