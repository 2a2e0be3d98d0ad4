using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FastReid.IO;
using SkiaSharp;
using Xunit.Abstractions;

namespace FastReid.Cli.Tests;

/// <summary>
/// Issue 7's independent check: a model trained one epoch on freshly generated data, exported, and run
/// on PNG files by tests/onnx-check/check.mjs (onnxruntime-node and pngjs, no code of ours) gives the
/// embeddings of <c>fastreid embed</c>, through TorchSharp and through <c>--onnx</c>, at batch 7 and 1.
/// </summary>
public sealed class OnnxIndependentCheckTests(ITestOutputHelper output) : IDisposable
{
    private const double Tolerance = 1e-4; // the exporter's default, and its definition of the error
    private readonly string _root = Directory.CreateTempSubdirectory("cli-onnx-check-").FullName;
    private static readonly string Recipe = Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml");
    private static readonly string CheckDir = Path.Combine(CliRunner.RepoRoot, "tests", "onnx-check");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Node_onnxruntime_on_png_files_matches_fastreid_embed_at_batch_7_and_1()
    {
        Assert.True(File.Exists(Path.Combine(CheckDir, "node_modules", "onnxruntime-node", "package.json")),
            "tests/onnx-check is not installed: run bash tests/onnx-check/install.sh (`make test` does it)");

        // data no one has seen: a seed used nowhere else, 128x64 crops = the model's input size (no resampling anywhere)
        var data = Path.Combine(_root, "data");
        Run("data", "synth", "--out", data, "--identities", "8", "--cameras", "4", "--seed", "7301",
            "--train-images", "8", "--gallery-images", "3", "--queries", "3");
        var run = Path.Combine(_root, "run");
        RunWith(new() { ["FASTREID_DATASETS"] = data }, "train", "--config", Recipe, "INPUT.SIZE_TRAIN", "[128, 64]", "INPUT.SIZE_TEST", "[128, 64]",
            "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "SOLVER.MAX_EPOCH", "1",
            "SOLVER.WARMUP_ITERS", "2", "OUTPUT_DIR", run);
        var config = Path.Combine(run, "config.yaml");
        var weights = Path.Combine(run, "model_final.pth");

        // the query crops as PNG; more than 7 of them, so that batch 7 ends with a partial batch
        var images = Path.Combine(_root, "png");
        Directory.CreateDirectory(images);
        foreach (var jpeg in Directory.GetFiles(Path.Combine(data, "Market-1501-v15.09.15", "query")))
        {
            using var bitmap = SKBitmap.Decode(jpeg);
            Assert.Equal((64, 128), (bitmap.Width, bitmap.Height));
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(images, Path.ChangeExtension(Path.GetFileName(jpeg), ".png")), png.ToArray());
        }
        Assert.True(Directory.GetFiles(images, "*.png").Length is > 7 and < 14, "expected 8 to 13 query images (a full and a partial batch of 7)");

        var export = Path.Combine(_root, "export");
        Run("export", "--config", config, "--output", export, "MODEL.WEIGHTS", weights);
        var model = Path.Combine(export, "model.onnx");

        var failures = new List<string>();
        foreach (var batch in new[] { 7, 1 })
        {
            var b = batch.ToString(CultureInfo.InvariantCulture);
            var torchNpz = Path.Combine(_root, $"torch-{b}.npz");
            Run("embed", "--config", config, "--images", images, "--out", torchNpz, "--batch", b, "MODEL.WEIGHTS", weights, "TEST.FLIP.ENABLED", "False");
            var onnxNpz = Path.Combine(_root, $"onnx-{b}.npz");
            Run("embed", "--onnx", model, "--images", images, "--out", onnxNpz, "--batch", b);
            var nodeJson = Path.Combine(_root, $"node-{b}.json");
            RunNode("--model", model, "--images", images, "--batch", b, "--out", nodeJson);

            var node = ReadNode(nodeJson);
            foreach (var (label, reference) in new[] { ("fastreid embed (TorchSharp)", ReadNpz(torchNpz)), ("fastreid embed --onnx", ReadNpz(onnxNpz)) })
            {
                Assert.Equal(reference.Names, node.Names);
                Assert.Equal(reference.Features.Length, node.Features.Length);
                var errors = node.Features.Zip(reference.Features, RelativeError).ToArray();
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"check.mjs batch {batch} vs {label} --batch {batch}: max relative error {errors.Max():E2} over {errors.Length} images (dim {node.Features[0].Length})"));
                for (int i = 0; i < errors.Length; i++)
                    if (!(errors[i] <= Tolerance))
                        failures.Add(string.Create(CultureInfo.InvariantCulture, $"batch {batch}, {node.Names[i]}: check.mjs vs {label}: relative error {errors[i]:E2} > {Tolerance:E0}"));
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>max|a - b| / max|b| over one embedding, b the reference (the exporter's definition).</summary>
    private static double RelativeError(float[] actual, float[] expected) =>
        actual.Zip(expected, (a, b) => (double)Math.Abs(a - b)).Max() / Math.Max(expected.Max(v => Math.Abs((double)v)), 1e-12);

    private sealed record Embeddings(string[] Names, float[][] Features);

    private static Embeddings ReadNpz(string path)
    {
        var arrays = Npz.Read(path);
        var features = arrays["features"];
        var names = arrays["names"];
        int count = (int)features.Shape[0], dim = (int)features.Shape[1], width = (int)names.Shape[1];
        var values = (float[])features.Data;
        var nameBytes = (byte[])names.Data;
        return new Embeddings(
            Enumerable.Range(0, count).Select(i => System.Text.Encoding.UTF8.GetString(nameBytes, i * width, width).TrimEnd('\0')).ToArray(),
            Enumerable.Range(0, count).Select(i => values.AsSpan(i * dim, dim).ToArray()).ToArray());
    }

    private static Embeddings ReadNode(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        return new Embeddings(
            root.GetProperty("names").EnumerateArray().Select(n => n.GetString()!).ToArray(),
            root.GetProperty("features").EnumerateArray().Select(f => f.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray());
    }

    private void Run(params string[] args) => RunWith(null, args);

    private void RunWith(Dictionary<string, string>? env, params string[] args)
    {
        var watch = Stopwatch.StartNew();
        var (code, stdout, stderr) = CliRunner.Run(env, args);
        Assert.True(code == 0, $"fastreid {string.Join(" ", args)} failed ({code}):\n{stderr}{stdout}");
        output.WriteLine($"fastreid {(args[0] is "data" ? "data synth" : args[0])}: {watch.Elapsed.TotalSeconds:F1} s");
    }

    private void RunNode(params string[] args)
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = CheckDir };
        start.ArgumentList.Add(Path.Combine(CheckDir, "check.mjs"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(true);
            Assert.Fail("check.mjs did not finish in 2 minutes");
        }
        Assert.True(process.ExitCode == 0, $"node check.mjs {string.Join(" ", args)} failed ({process.ExitCode}):\n{stderr.Result}{stdout.Result}");
        output.WriteLine(stdout.Result.Trim());
    }
}
