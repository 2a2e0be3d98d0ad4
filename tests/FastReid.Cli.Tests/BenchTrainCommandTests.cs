using System.Text.Json;

namespace FastReid.Cli.Tests;

/// <summary>
/// The code path of <c>fastreid bench train</c> on the tiny recipe; no timing is asserted. <c>--premade-only</c> is what
/// bench/train-vs-pytorch.sh reads: the pre-made rate, the classes its PyTorch twin must use, and the step's profile.
/// </summary>
public sealed class BenchTrainCommandTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-bench-train-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private string[] Bench(string outFile, params string[] more) =>
        ["bench", .. TrainCommandTests.Tiny(Path.Combine(_out, "run")), "--steps", "2", "--rounds", "1", "--warmup", "1", "--out", outFile, .. more];

    [Fact]
    public void Premade_only_times_the_premade_steps_with_their_profile_and_no_pipeline_figures()
    {
        var outFile = Path.Combine(_out, "premade.json");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Bench(outFile, "--premade-only"));
        Assert.True(code == 0, stderr + stdout);
        Assert.DoesNotContain("pipeline", stdout);

        using var json = JsonDocument.Parse(File.ReadAllText(outFile));
        var root = json.RootElement;
        Assert.Equal("train-step-premade", root.GetProperty("benchmark").GetString());
        Assert.True(root.GetProperty("premade_steps_per_s").GetDouble() > 0);
        Assert.InRange(root.GetProperty("classes").GetInt32(), 1, 16); // the training identities of the tiny set's 16
        var profile = root.GetProperty("premade_seconds_per_step");
        double phases = 0;
        foreach (var phase in new[] { "forward_with_loss", "backward", "optimizer" })
        {
            Assert.True(profile.GetProperty(phase).GetDouble() > 0, phase);
            phases += profile.GetProperty(phase).GetDouble();
        }
        // the phases cover the step: their sum is the step's time up to rounding and the input tensor's copy
        Assert.InRange(phases * root.GetProperty("premade_steps_per_s").GetDouble(), 0.5, 1.001);
        Assert.False(root.TryGetProperty("pipeline_steps_per_s", out _));
        Assert.False(root.TryGetProperty("ratio", out _));
    }

    [Fact]
    public void Both_modes_report_the_pipeline_ratio_against_its_goal()
    {
        var outFile = Path.Combine(_out, "both.json");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Bench(outFile));
        Assert.True(code == 0, stderr + stdout);
        using var json = JsonDocument.Parse(File.ReadAllText(outFile));
        var root = json.RootElement;
        Assert.Equal("train-step-input-pipeline", root.GetProperty("benchmark").GetString());
        Assert.True(root.GetProperty("pipeline_steps_per_s").GetDouble() > 0);
        Assert.True(root.GetProperty("ratio").GetDouble() > 0);
        Assert.Equal(">= 0.95", root.GetProperty("goal").GetString());
    }
}
