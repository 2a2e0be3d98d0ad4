using System.Text;
using System.Text.Json;
using FastReid.Api.V1Alpha1;
using FastReid.Contracts;

namespace FastReid.Api.Tests;

/// <summary>The trainer↔operator result contract: what one side writes, the other reads, within a termination message.</summary>
public class RunResultTests
{
    private static string Hex(char c) => new(c, 64);

    /// <summary>
    /// The longest a training result gets on a cluster: a 63-character bucket, the operator's default prefix
    /// of a 63-character namespace and a 253-character experiment name, every URI, four digests.
    /// </summary>
    private static RunResult LargestTraining()
    {
        var prefix = $"s3://{new string('b', 63)}/{new string('n', 63)}/{new string('e', 253)}";
        return new RunResult
        {
            Metrics = new ReidMetrics { MAP = 0.8612345678901234, Rank1 = 0.9423456789012345, Rank5 = 0.9781234567890123, Rank10 = 0.9851234567890123, MINP = 0.6112345678901234 },
            Artefacts = new ResultArtefacts
            {
                Model = $"{prefix}/model_final.pth", Config = $"{prefix}/config.yaml", Metrics = $"{prefix}/metrics.json",
                Manifest = $"{prefix}/manifest.json", Checkpoint = $"{prefix}/checkpoints/model_0000120",
            },
            Sha256 = new(StringComparer.Ordinal) { ["config.yaml"] = Hex('a'), ["model_best.pth"] = Hex('b'), ["model_final.pth"] = Hex('c'), ["metrics.json"] = Hex('d') },
            WeightsSha256 = Hex('e'),
            Budget = new ResultBudget { Key = "SOLVER.MAX_EPOCH", Used = 120 },
        };
    }

    [Fact]
    public void A_training_result_round_trips_field_for_field()
    {
        var written = LargestTraining();
        var read = RunResult.TryParse(written.ToJson(), "the rank-0 pod", out var error);
        Assert.Null(error);
        Assert.Equal(JsonSerializer.Serialize(written), JsonSerializer.Serialize(read));
        Assert.Equal(RunResult.CurrentVersion, read!.Version);
        Assert.Equal(0.9423456789012345, read.Metrics!.Rank1);
        Assert.Equal(Hex('c'), read.Sha256!["model_final.pth"]);
    }

    [Fact]
    public void An_export_result_round_trips_field_for_field()
    {
        var written = new RunResult
        {
            Format = "onnx",
            Artefacts = new ResultArtefacts { Export = "s3://m/e/export/model.onnx", Verify = "s3://m/e/export/verify.json" },
            Sha256 = new(StringComparer.Ordinal) { ["model.onnx"] = Hex('f') },
            Verify = new ResultVerification { Passed = true, Tolerance = 1e-4, MaxRelativeError = 1.2e-6, MaxAbsError = 3.4e-6, Batch = "7", Opset = 18, Onnxruntime = "1.23.2" },
        };
        var read = RunResult.TryParse(written.ToJson(), "the export pod", out var error);
        Assert.Null(error);
        Assert.Equal(JsonSerializer.Serialize(written), JsonSerializer.Serialize(read));
    }

    [Fact]
    public void The_largest_realistic_result_fits_a_termination_message_whole()
    {
        var result = LargestTraining();
        var text = result.ToJson();
        Assert.True(Encoding.UTF8.GetByteCount(text) <= RunResult.MaxBytes, $"{Encoding.UTF8.GetByteCount(text)} bytes");
        Assert.Contains("\"sha256\"", text); // nothing had to be trimmed
    }

    [Fact]
    public void Beyond_4_KB_digests_go_first_then_derived_uris_and_the_model_stays()
    {
        var result = LargestTraining();
        var longPrefix = "s3://b/" + new string('p', 800);
        result.Artefacts = new ResultArtefacts
        {
            Model = $"{longPrefix}/model_final.pth", Config = $"{longPrefix}/config.yaml", Metrics = $"{longPrefix}/metrics.json",
            Manifest = $"{longPrefix}/manifest.json", Checkpoint = $"{longPrefix}/checkpoints/model_0000120",
        };
        var text = result.ToJson();
        Assert.True(Encoding.UTF8.GetByteCount(text) <= RunResult.MaxBytes);
        var read = RunResult.TryParse(text, "the rank-0 pod", out _)!;
        Assert.Null(read.Sha256);
        Assert.Null(read.Artefacts.Manifest);
        Assert.Equal(result.Artefacts.Model, read.Artefacts.Model);
        Assert.Equal(result.Artefacts.Config, read.Artefacts.Config);
        Assert.Equal(0.8612345678901234, read.Metrics!.MAP);
    }

    [Fact]
    public void A_result_without_a_version_is_the_shape_that_shipped_first()
    {
        var read = RunResult.TryParse("""{"status":"Succeeded","metrics":{"mAP":0.5,"rank1":0.6},"budget":{"key":"SOLVER.MAX_EPOCH","used":3}}""", "the rank-0 pod", out var error);
        Assert.Null(error);
        Assert.Equal((1, 0.5, 0.6, 3.0), (read!.Version, read.Metrics!.MAP, read.Metrics.Rank1, read.Budget!.Used));
    }

    [Fact]
    public void A_newer_result_version_is_refused_by_name_instead_of_half_read()
    {
        Assert.Null(RunResult.TryParse("""{"version":2,"status":"Succeeded"}""", "the rank-0 pod", out var error));
        Assert.Contains("result version 2", error);
        Assert.Contains("upgrade the operator", error);
    }

    [Theory]
    [InlineData("""{"metrics":{"mAP":"high"}}""")]
    [InlineData("""{"version":"one"}""")]
    public void A_field_of_the_wrong_type_is_not_result_json(string text)
    {
        Assert.Null(RunResult.TryParse(text, "the rank-0 pod", out var error));
        Assert.Contains("not result JSON", error);
    }
}
