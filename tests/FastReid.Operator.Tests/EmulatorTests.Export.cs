using FastReid.Api.V1Alpha1;
using FastReid.Operator.Tests.Packaging;
using k8s;

namespace FastReid.Operator.Tests;

/// <summary>ExportJobs through the operator host, the emulator and the real kubectl.</summary>
public sealed partial class EmulatorTests
{
    private const string ExportResult = """
        {"status":"Succeeded","format":"onnx","artefacts":{"export":"s3://models/src/export/model.onnx","verify":"s3://models/src/export/verify.json"},"sha256":{"model.onnx":"ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"},"verify":{"passed":true,"tolerance":0.0001,"max_relative_error":1.2e-06,"max_abs_error":3.4e-06,"batch":"dynamic","opset":17,"onnxruntime":"1.31.1"}}
        """;

    private Task ApplyExport(string name, string specJson) => Create("ExportJob", "exportjobs", name, specJson);

    private Task<ExportJob> ReadExport(string name) => Read<ExportJob>("exportjobs", name);

    [Fact]
    public async Task An_export_waits_for_its_experiment_then_exports_and_kubectl_shows_the_figures()
    {
        await Apply("src", TwoByFour.Replace("\"nodes\":2", "\"nodes\":1", StringComparison.Ordinal).Replace("models/exp1", "models/src", StringComparison.Ordinal));
        await ApplyExport("src-onnx", """
            {"source":{"experimentRef":{"name":"src"}},"verify":{"tolerance":0.0001},
             "output":{"uri":"s3://models/src/export","endpoint":"http://minio:9000","secretRef":{"name":"s3-creds"}}}
            """);
        var trainPod = await Eventually(async () => (await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/experiment=src")).Items.SingleOrDefault(), "the training pod");
        var waiting = await Eventually(async () => await ReadExport("src-onnx") is { Status.Phase: Phases.Pending } e ? e : null, "the export Pending");
        Assert.Equal("SourceNotReady", Conditions.Find(waiting.Status!.Conditions, ConditionTypes.SourceReady)!.Reason);
        await _kube.WaitForControllersAsync();
        Assert.Empty((await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/export=src-onnx")).Items);

        _kube.Kubelet.Finish("team-a", trainPod.Metadata.Name, 0,
            """{"status":"Succeeded","metrics":{"mAP":0.5,"rank1":0.6},"artefacts":{"model":"s3://models/src/model.pt","config":"s3://models/src/config.yaml"}}""");
        var exportJob = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/export=src-onnx")).Items.SingleOrDefault(), "the export Job");
        Assert.Equal(
            ["export", "--config", "s3://models/src/config.yaml", "--output", "s3://models/src/export", "--format", "onnx", "--opset", "17",
             "--batch", "dynamic", "--tolerance", "0.0001", "MODEL.WEIGHTS", "s3://models/src/model.pt"],
            exportJob.Spec.Template.Spec.Containers[0].Args);

        var exportPod = await Eventually(async () => (await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/export=src-onnx")).Items.SingleOrDefault(), "the export pod");
        _kube.Kubelet.Finish("team-a", exportPod.Metadata.Name, 0, ExportResult);
        var done = await Eventually(async () => await ReadExport("src-onnx") is { Status.Phase: Phases.Succeeded } e ? e : null, "the export Succeeded");
        Assert.Equal("s3://models/src/export/model.onnx", done.Status!.Artefacts!.Export);
        Assert.StartsWith("ab12cd34", done.Status.Artefacts.Sha256!["model.onnx"]);
        Assert.Equal((true, 1.2e-6, "1.31.1"), (done.Status.Verification!.Passed, done.Status.Verification.MaxRelativeError, done.Status.Verification.Onnxruntime));
        Assert.Equal(("s3://models/src/model.pt", exportJob.Metadata.Name), (done.Status.Source!.Model, done.Status.JobName));
        Assert.Equal("Exported", Conditions.Find(done.Status.Conditions, ConditionTypes.Succeeded)!.Reason);

        var dir = Directory.CreateTempSubdirectory("export-kubectl-").FullName;
        try
        {
            var kubeconfig = _kube.WriteKubeconfig(Path.Combine(dir, "kubeconfig"));
            var table = await Repo.KubectlOk(kubeconfig, Path.Combine(dir, "cache"), "get", "exportjobs", "-n", "team-a");
            var lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["NAME", "PHASE", "FORMAT", "SOURCE", "MAXRELERROR", "AGE"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(["src-onnx", "Succeeded", "onnx", "src", "1.2e-06"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..5]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_tensorrt_export_is_unsupported_and_makes_no_job()
    {
        await ApplyExport("trt", """
            {"source":{"modelUri":"s3://models/m/model.pt","configUri":"s3://models/m/config.yaml"},"format":"tensorrt",
             "output":{"uri":"s3://models/m/export"}}
            """);
        var failed = await Eventually(async () => await ReadExport("trt") is { Status.Phase: Phases.Failed } e ? e : null, "the export Failed");
        var unsupported = Conditions.Find(failed.Status!.Conditions, ConditionTypes.Unsupported)!;
        Assert.Equal(("True", "FormatUnsupported"), (unsupported.Status, unsupported.Reason));
        Assert.Contains("format tensorrt is not supported yet", unsupported.Message);
        await _kube.WaitForControllersAsync();
        Assert.Empty((await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items);
        // Events are recorded after the status write.
        var events = await Eventually(async () =>
        {
            var list = (await _client.CoreV1.ListNamespacedEventAsync("team-a")).Items.Where(e => e.InvolvedObject.Kind == "ExportJob").ToList();
            return list.Count > 0 ? list : null;
        }, "the event");
        Assert.Equal(("Warning", "FormatUnsupported"), (Assert.Single(events).Type, events[0].Reason));
    }
}
