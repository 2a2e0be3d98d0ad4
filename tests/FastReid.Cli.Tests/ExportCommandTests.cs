using System.Text.Json;
using FastReid.Data;
using FastReid.Export;
using FastReid.IO;
using Microsoft.ML.OnnxRuntime;

namespace FastReid.Cli.Tests;

public sealed class ExportCommandTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-export-").FullName;
    private static readonly string Recipe = Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml");

    public void Dispose() => Directory.Delete(_out, recursive: true);

    [Fact]
    public void Trained_model_exports_verified_and_onnxruntime_matches_fastreid_embed_on_images()
    {
        var run = Path.Combine(_out, "run");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, "train", "--config", Recipe, "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
            "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "SOLVER.MAX_EPOCH", "1",
            "TEST.EVAL_PERIOD", "5", "SOLVER.WARMUP_ITERS", "2", "INPUT.PADDING.SIZE", "2", "OUTPUT_DIR", run);
        Assert.True(code == 0, stderr + stdout);
        var config = Path.Combine(run, "config.yaml");
        var weights = Path.Combine(run, "model_final.pth");

        var export = Path.Combine(_out, "export");
        var query = Path.Combine(data.Market, "query");
        (code, stdout, stderr) = CliRunner.Run(null, "export", "--config", config, "--output", export, "--images", query, "MODEL.WEIGHTS", weights);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("verified against onnxruntime", stdout);
        Assert.Equal(["model.onnx", "verify.json"], Directory.GetFiles(export).Select(Path.GetFileName).Order());
        using (var verify = JsonDocument.Parse(File.ReadAllText(Path.Combine(export, "verify.json"))))
        {
            var root = verify.RootElement;
            Assert.True(root.GetProperty("passed").GetBoolean());
            Assert.Equal(128, root.GetProperty("output_dim").GetInt64());
            Assert.Equal([1, 7, 1, 7], root.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("batch").GetInt32()));
            Assert.Contains("image file", root.GetProperty("checks")[3].GetProperty("input").GetString());
            Assert.All(root.GetProperty("checks").EnumerateArray(), c => Assert.InRange(c.GetProperty("max_relative_error").GetDouble(), 0, 1e-4));
        }

        // the exported graph, run by onnxruntime on the query PNGs, gives what `fastreid embed` gives
        var npz = Path.Combine(_out, "q.npz");
        (code, stdout, stderr) = CliRunner.Run(null, "embed", "--config", config, "--images", query, "--out", npz,
            "MODEL.WEIGHTS", weights, "TEST.FLIP.ENABLED", "False");
        Assert.True(code == 0, stderr + stdout);
        var expected = Npz.Read(npz)["features"];
        var files = Directory.GetFiles(query).Order(StringComparer.Ordinal).ToArray();
        Assert.True(files.Length >= 7, $"only {files.Length} query images");
        var embedded = (float[])expected.Data;
        using var session = new InferenceSession(Path.Combine(export, "model.onnx"));
        foreach (var batch in new[] { 7, 1 })
        {
            var pixels = new float[batch * 3 * 64 * 32];
            for (int i = 0; i < batch; i++)
            {
                var rgb = ImageDecoder.Decode(files[i], 64, 32); // HWC bytes
                for (int y = 0; y < 64; y++)
                    for (int x = 0; x < 32; x++)
                        for (int c = 0; c < 3; c++)
                            pixels[((i * 3 + c) * 64 + y) * 32 + x] = rgb[(y * 32 + x) * 3 + c];
            }
            var (values, shape) = OnnxVerifier.Run(session, pixels, [batch, 3, 64, 32]);
            Assert.Equal([batch, 128L], shape);
            for (int i = 0; i < batch; i++)
            {
                var want = embedded.AsSpan(i * 128, 128).ToArray();
                var got = values.AsSpan(i * 128, 128).ToArray();
                double rel = want.Zip(got, (a, b) => Math.Abs(a - b)).Max() / want.Max(Math.Abs);
                Assert.True(rel <= 1e-4, $"batch {batch}, {Path.GetFileName(files[i])}: relative error {rel:E2}");
            }
        }

        // `fastreid embed --onnx` gives the same embeddings as the TorchSharp model, and keeps pids/camids
        var onnxNpz = Path.Combine(_out, "q-onnx.npz");
        (code, stdout, stderr) = CliRunner.Run(null, "embed", "--onnx", Path.Combine(export, "model.onnx"), "--images", query, "--out", onnxNpz, "--batch", "5");
        Assert.True(code == 0, stderr + stdout);
        var fromOnnx = Npz.Read(onnxNpz);
        Assert.Equal(expected.Shape, fromOnnx["features"].Shape);
        Assert.Equal(Npz.Read(npz)["pids"].Data, fromOnnx["pids"].Data);
        var onnxValues = (float[])fromOnnx["features"].Data;
        for (int i = 0; i < files.Length; i++)
        {
            var want = embedded.AsSpan(i * 128, 128).ToArray();
            var got = onnxValues.AsSpan(i * 128, 128).ToArray();
            double rel = want.Zip(got, (a, b) => Math.Abs(a - b)).Max() / want.Max(Math.Abs);
            Assert.True(rel <= 1e-4, $"embed --onnx, {Path.GetFileName(files[i])}: relative error {rel:E2}");
        }
        (code, _, stderr) = CliRunner.Run(null, "embed", "--onnx", Path.Combine(export, "model.onnx"), "--images", query, "--out", onnxNpz, "--size", "64x33");
        Assert.Equal(1, code);
        Assert.Contains("does not match the model's fixed input 64x32", stderr);
    }

    [Theory]
    [InlineData("--batch", "0", "--batch expects 'dynamic' or a positive integer")]
    [InlineData("--format", "tensorrt", "--format tensorrt: only 'onnx' is supported")]
    [InlineData("--tolerance", "-1", "--tolerance must be a positive number")]
    public void Bad_options_are_usage_errors(string option, string value, string message)
    {
        var (code, _, stderr) = CliRunner.Run(null, "export", "--config", Recipe, "--output", Path.Combine(_out, "x"), option, value);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.False(Directory.Exists(Path.Combine(_out, "x")));
    }

    [Fact]
    public void Missing_weights_are_named()
    {
        var (code, _, stderr) = CliRunner.Run(null, "export", "--config", Recipe, "--output", Path.Combine(_out, "x"));
        Assert.Equal(2, code); // a config value missing: the usage code, never retried
        Assert.Contains("MODEL.WEIGHTS", stderr);
        Assert.False(File.Exists(Path.Combine(_out, "x", "model.onnx")));
    }
}
