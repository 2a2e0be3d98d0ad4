using System.Text.Json;

namespace FastReid.Cli.Tests;

/// <summary>The code path of <c>fastreid bench export</c> on a tiny model; no timing is asserted.</summary>
public sealed class BenchExportCommandTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-bench-export-").FullName;
    private static readonly string Recipe = Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml");

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static string[] Tiny(string name, string outFile) =>
    [
        "bench", "export", "--config", Recipe, "--name", name, "--batches", "1,3", "--reps", "1", "--warmup", "1", "--threads", "1", "--out", outFile,
        "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "INPUT.SIZE_TEST", "[64, 32]",
    ];

    [Fact]
    public void Records_both_runtimes_per_batch_and_keeps_other_models_entries()
    {
        var outFile = Path.Combine(_out, "export.json");
        var (code, stdout, stderr) = CliRunner.Run(null, Tiny("tiny-a", outFile));
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("tiny-a batch 3: TorchSharp median", stdout);
        (code, stdout, stderr) = CliRunner.Run(null, Tiny("tiny-b", outFile));
        Assert.True(code == 0, stderr + stdout);

        using var json = JsonDocument.Parse(File.ReadAllText(outFile));
        var models = json.RootElement.GetProperty("models");
        Assert.Equal(["tiny-a", "tiny-b"], models.EnumerateObject().Select(p => p.Name));
        var entry = models.GetProperty("tiny-b");
        Assert.StartsWith("random initialisation", entry.GetProperty("weights").GetString());
        Assert.Equal(1, entry.GetProperty("threads").GetProperty("torch").GetInt32());
        Assert.Equal(1, entry.GetProperty("threads").GetProperty("onnxruntime_intra_op").GetInt32());
        Assert.Equal([1, 3], entry.GetProperty("batches").EnumerateArray().Select(b => b.GetProperty("batch").GetInt32()));
        foreach (var row in entry.GetProperty("batches").EnumerateArray())
        {
            Assert.Equal(1, row.GetProperty("reps").GetInt32());
            Assert.True(row.GetProperty("ratio").GetDouble() > 0);
            Assert.True(row.GetProperty("torchsharp").GetProperty("median_ms").GetDouble() > 0);
            Assert.True(row.GetProperty("onnxruntime").GetProperty("images_per_s").GetDouble() > 0);
            // the same graph 'fastreid export' writes: onnxruntime agrees with TorchSharp
            Assert.InRange(row.GetProperty("max_relative_error").GetDouble(), 0, 1e-4);
        }
    }

    [Theory]
    [InlineData("--reps", "1,2,3", "--reps gives 3 numbers for 2 batch sizes")]
    [InlineData("--batches", "1,0", "--batches expects positive integers")]
    [InlineData("--warmup", "0", "--warmup must be at least 1")]
    public void Bad_options_are_usage_errors(string option, string value, string message)
    {
        var args = Tiny("x", Path.Combine(_out, "x.json")).ToList();
        args[args.IndexOf(option) + 1] = value;
        var (code, _, stderr) = CliRunner.Run(null, [.. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.False(File.Exists(Path.Combine(_out, "x.json")));
    }
}
