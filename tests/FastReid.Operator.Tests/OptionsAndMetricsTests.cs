using FastReid.Api.V1Alpha1;
using System.Diagnostics;
using FastReid.Operator.Hosting;
using k8s.Models;

namespace FastReid.Operator.Tests;

public class OptionsAndMetricsTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void Defaults_suit_an_in_cluster_deployment()
    {
        var options = OperatorOptions.Parse([], NoEnvironment);
        Assert.Null(options.Namespace);
        Assert.True(options.LeaderElection);
        Assert.Equal(8080, options.MetricsPort);
        Assert.Null(options.DefaultStorage);
        Assert.Equal("default", options.LeaderElectionNamespace);
    }

    [Fact]
    public void Flags_and_environment_are_read()
    {
        var env = new Dictionary<string, string> { ["POD_NAMESPACE"] = "fastreid-system", ["POD_NAME"] = "op-0", ["KUBECONFIG"] = "/k" };
        var options = OperatorOptions.Parse(
            ["--namespace", "team-a", "--leader-elect=false", "--metrics-port=9090", "--trainer-image", "reg/trainer:1",
             "--default-storage", "s3://fastreid/runs", "--default-storage-endpoint", "http://minio:9000", "--default-storage-secret", "s3-creds", "--workers", "4",
             "--pending-deadline-seconds", "0"],
            k => env.GetValueOrDefault(k));
        Assert.Equal("team-a", options.Namespace);
        Assert.False(options.LeaderElection);
        Assert.Equal(9090, options.MetricsPort);
        Assert.Equal("reg/trainer:1", options.TrainerImage);
        Assert.Equal(("s3://fastreid/runs", "http://minio:9000", "s3-creds"), (options.DefaultStorage!.Uri, options.DefaultStorage.Endpoint, options.DefaultStorage.SecretRef!.Name));
        Assert.Equal(4, options.Workers);
        Assert.Equal(0, options.PendingDeadlineSeconds);
        Assert.Equal(("fastreid-system", "op-0", "/k"), (options.LeaderElectionNamespace, options.Identity, options.Kubeconfig));
    }

    [Theory]
    [InlineData(new[] { "--metrics-port", "http" }, "--metrics-port must be an integer in [0, 65535], got 'http'")]
    [InlineData(new[] { "--leader-elect=maybe" }, "--leader-elect takes true or false, got 'maybe'")]
    [InlineData(new[] { "--default-storage", "http://x" }, "--default-storage: must be s3://bucket/prefix or pvc://CLAIM/path, got 'http://x'")]
    [InlineData(new[] { "--default-storage", "/data/out" }, "--default-storage: '/data/out' is a local path, which a cluster pod does not have (files written there vanish with the pod); use s3://bucket/prefix or pvc://CLAIM/path (a PersistentVolumeClaim of this namespace)")]
    [InlineData(new[] { "--default-storage-secret", "s" }, "--default-storage-endpoint and --default-storage-secret need --default-storage")]
    [InlineData(new[] { "--namepsace", "x" }, "unknown option --namepsace")]
    [InlineData(new[] { "--workers" }, "--workers needs a value")]
    [InlineData(new[] { "--pending-deadline-seconds", "-5" }, "--pending-deadline-seconds must be an integer in [0, 2147483647], got '-5'")]
    public void Wrong_flags_are_named(string[] args, string message) =>
        Assert.Equal(message, Assert.Throws<OptionsException>(() => OperatorOptions.Parse(args, NoEnvironment)).Message);

    [Fact]
    public void Children_map_to_their_experiment_by_owner_or_label()
    {
        var job = new V1ObjectMeta
        {
            NamespaceProperty = "ns",
            OwnerReferences = [new V1OwnerReference { ApiVersion = "fastreid.io/v1alpha1", Kind = "ReidExperiment", Name = "exp", Uid = "u", Controller = true }],
        };
        Assert.Equal(new Runtime.ObjectKey("ns", "exp"), ChildIndex.OwnerOf(job, ResourceKinds.ReidExperiment));
        var pod = new V1ObjectMeta
        {
            NamespaceProperty = "ns",
            Labels = new Dictionary<string, string> { ["fastreid.io/experiment"] = "exp" },
            OwnerReferences = [new V1OwnerReference { ApiVersion = "batch/v1", Kind = "Job", Name = "exp-123", Uid = "j", Controller = true }],
        };
        Assert.Equal(new Runtime.ObjectKey("ns", "exp"), ChildIndex.OwnerOf(pod, ResourceKinds.ReidExperiment));
        Assert.Null(ChildIndex.OwnerOf(new V1ObjectMeta { NamespaceProperty = "ns" }, ResourceKinds.ReidExperiment));
    }

    [Fact]
    public void Export_children_map_to_their_export_job_and_not_to_an_experiment()
    {
        var job = new V1ObjectMeta
        {
            NamespaceProperty = "ns",
            OwnerReferences = [new V1OwnerReference { ApiVersion = "fastreid.io/v1alpha1", Kind = "ExportJob", Name = "onnx", Uid = "u", Controller = true }],
        };
        Assert.Equal(new Runtime.ObjectKey("ns", "onnx"), ChildIndex.OwnerOf(job, ResourceKinds.ExportJob));
        Assert.Null(ChildIndex.OwnerOf(job, ResourceKinds.ReidExperiment));
        var pod = new V1ObjectMeta { NamespaceProperty = "ns", Labels = new Dictionary<string, string> { ["fastreid.io/export"] = "onnx" } };
        Assert.Equal(new Runtime.ObjectKey("ns", "onnx"), ChildIndex.OwnerOf(pod, ResourceKinds.ExportJob));
        Assert.Null(ChildIndex.OwnerOf(pod, ResourceKinds.ReidExperiment));

        var exports = new[]
        {
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"namespace":"ns","name":"a"},"spec":{"source":{"experimentRef":{"name":"exp"}}}}""")!.AsObject(),
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"namespace":"other","name":"b"},"spec":{"source":{"experimentRef":{"name":"exp"}}}}""")!.AsObject(),
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"namespace":"ns","name":"c"},"spec":{"source":{"modelUri":"s3://m","configUri":"s3://c"}}}""")!.AsObject(),
        };
        Assert.Equal([new Runtime.ObjectKey("ns", "a")], Controllers.ExportJobController.ExportsOf(new Runtime.ObjectKey("ns", "exp"), exports));
    }

    [Fact]
    public void A_changed_experiment_wakes_the_distill_jobs_it_teaches_and_the_one_whose_student_name_it_holds()
    {
        var jobs = new[]
        {
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"namespace":"ns","name":"a"},"spec":{"teachers":[{"modelUri":"s3://m","configUri":"s3://c"},{"experimentRef":{"name":"exp"}}]}}""")!.AsObject(),
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"namespace":"other","name":"b"},"spec":{"teachers":[{"experimentRef":{"name":"exp"}}]}}""")!.AsObject(),
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"namespace":"ns","name":"c"},"spec":{"teachers":[{"experimentRef":{"name":"other"}}]}}""")!.AsObject(),
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"namespace":"ns","name":"exp"},"spec":{"teachers":[{"experimentRef":{"name":"x"}}]}}""")!.AsObject(),
        };
        Assert.Equal([new Runtime.ObjectKey("ns", "a")], Controllers.DistillJobController.JobsReading(new Runtime.ObjectKey("ns", "exp"), jobs));
        Assert.Equal([new Runtime.ObjectKey("ns", "exp")], Controllers.DistillJobController.JobsReading(new Runtime.ObjectKey("ns", "exp-student"), jobs));
    }

    [Fact]
    public async Task Metrics_pass_promtool_check()
    {
        var metrics = new OperatorMetrics();
        metrics.Reconciles.WithLabels("ReidExperiment", "success").Inc(3);
        metrics.ReconcileDuration.WithLabels("ReidExperiment").Observe(0.02);
        metrics.WatchRestarts.WithLabels("Job", "expired").Inc();
        metrics.QueueDepth.WithLabels("ReidExperiment").Set(2);
        foreach (var phase in new[] { "Pending", "Pending", "Succeeded", null }) metrics.MovePhase("ReidExperiment", null, false, phase, true);
        metrics.MovePhase("ReidExperiment", "Pending", true, "Running", true);
        metrics.MovePhase("ReidExperiment", "Pending", true, "Running", true);
        var text = await metrics.ExportAsync();
        Assert.Contains("fastreid_operator_resources{kind=\"ReidExperiment\",phase=\"Running\"} 2", text);
        Assert.Contains("fastreid_operator_resources{kind=\"ReidExperiment\",phase=\"Failed\"} 0", text);
        Assert.Contains("fastreid_operator_reconciles_total{kind=\"ReidExperiment\",result=\"success\"} 3", text);

        var start = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        Process? started;
        try { started = Process.Start(start); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("promtool is needed for this test: apt-get install --no-install-recommends prometheus", e);
        }
        using var promtool = started ?? throw new InvalidOperationException("promtool did not start");
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        var output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        Assert.True(promtool.ExitCode == 0, output);
        Assert.DoesNotContain("problem", output, StringComparison.OrdinalIgnoreCase);
    }
}
