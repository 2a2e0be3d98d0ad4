using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using FastReid.Pipeline.Exports;
using FastReid.Storage;

namespace FastReid.Cli.Tests;

/// <summary>
/// The two sides of the ExportJob contract meet: the trainer container the operator plans (its args and
/// plain env) is run by the real <c>fastreid</c> against s3rver, and what the trainer writes to its
/// result file, read back as the pod's termination message, gives the status the operator records.
/// </summary>
public sealed partial class OnnxEvaluationTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task The_planned_export_pod_runs_in_the_trainer_and_its_result_becomes_the_status()
    {
        var bucket = await PublishRunAsync("exp1");
        var export = new ExportJob
        {
            Metadata = new ObjectMeta { Name = "exp1-onnx", Namespace = "team-a", Uid = "uid-1", Generation = 1 },
            Spec = new ExportJobSpec
            {
                Source = new ModelSource { ModelUri = $"s3://{bucket}/exp1/model_final.pth", ConfigUri = $"s3://{bucket}/exp1/config.yaml" },
                Onnx = new OnnxSpec { DynamicBatch = false, BatchSize = 3 },
                Output = new OutputSpec { Uri = $"s3://{bucket}/exp1/export", Endpoint = _s3.Endpoint.ToString(), Region = "us-east-1", SecretRef = new SecretReference { Name = "s3" } },
            },
        };
        var first = ExportJobPlanner.Plan(export, ObservedChildren.None(Now), sourceExperiment: null);
        var pods = PlannedPods.Of(first.Actions, _tmp);
        var run = pods.Run();
        Assert.True(run.ExitCode == 0, $"fastreid {string.Join(" ", pods.Trainer.Args)}: exit {run.ExitCode}\n{run.Stderr}{run.Stdout}");

        var pod = pods.Finish(run, Now, Now.AddMinutes(1));
        export.Status = first.Status;
        var done = ExportJobPlanner.Plan(export, ObservedChildren.None(Now.AddMinutes(2)).With([pods.Job]).With([pod]), sourceExperiment: null);

        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        Assert.Equal($"s3://{bucket}/exp1/export/model.onnx", done.Status.Artefacts?.Export);
        var digest = done.Status.Artefacts!.Sha256!["model.onnx"];
        using var exported = new S3Storage(StorageUri.Parse($"s3://{bucket}/exp1/export"), _s3.Settings);
        var local = Path.Combine(_tmp, "model.onnx");
        await exported.GetFileAsync("model.onnx", local);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(local))), digest);
        var verification = done.Status.Verification!;
        Assert.True(verification.Passed == true);
        Assert.InRange(verification.MaxRelativeError ?? double.NaN, 0, 1e-4);
        Assert.NotNull(verification.MaxAbsError);
        Assert.Equal("3", verification.Batch);
        Assert.False(string.IsNullOrEmpty(verification.Onnxruntime));
    }
}
