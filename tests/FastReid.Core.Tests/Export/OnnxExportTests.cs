using System.Text.Json;
using FastReid.Core.Tests.Modeling;
using FastReid.Export;
using FastReid.Modeling.MetaArch;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Export;

public sealed class OnnxExportTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly string _dir = Directory.CreateTempSubdirectory("onnx-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// A quarter-width model whose norms hold real statistics (one training-mode pass with momentum 1) and
    /// random affine terms, so folding them is really tested and activations stay in range as in a trained model.
    /// </summary>
    private static Baseline Model(params string[] overrides)
    {
        torch.manual_seed(11);
        var cfg = ModelTests.TinyConfig(["MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", .. overrides]);
        var model = new Baseline(cfg, numClasses: 5);
        using (torch.no_grad())
        {
            foreach (var (_, m) in model.named_modules())
            {
                if (m is BatchNorm bn)
                {
                    bn.momentum = 1.0;
                    bn.weight!.copy_(torch.rand(bn.num_features) + 0.5);
                    bn.bias!.copy_(torch.randn(bn.num_features) * 0.1);
                }
                else if (m is InstanceNorm2d inorm)
                {
                    inorm.weight!.copy_(torch.rand(inorm.num_features) + 0.5);
                    inorm.bias!.copy_(torch.randn(inorm.num_features) * 0.1);
                }
            }
            model.train();
            using var images = torch.rand(8, 3, 64, 32) * 255;
            model.forward(images).Dispose();
            // noise images give channels with a large mean and a small spread; a trained model on real images
            // is better conditioned, so widen the statistics (folding is still exercised with non-trivial values)
            foreach (var (_, m) in model.named_modules())
                if (m is BatchNorm bn)
                {
                    bn.running_mean!.mul_(0.5);
                    bn.running_var!.mul_(4).add_(0.1);
                }
        }
        model.eval();
        return model;
    }

    private static InferenceSession Session(Onnx.ModelProto proto) => new(proto.ToByteArray());

    private static void AssertMatches(Baseline model, long h = 64, long w = 32, long expectedDim = 128)
    {
        var proto = BaselineOnnxWriter.Write(model, h, w);
        Assert.Equal(expectedDim, proto.Graph.Output[0].Type.TensorType.Shape.Dim[1].DimValue);
        using var session = Session(proto);
        foreach (var batch in new[] { 1, 7 })
        {
            var check = OnnxVerifier.CompareRandom(model, session, batch, h, w, Tolerance, seed: batch);
            Assert.True(check.Passed, $"batch {batch}: relative error {check.MaxRelativeError:E2}");
            Assert.True(check.MaxAbsError > 0 || check.MaxRelativeError == 0);
        }
    }

    [Theory]
    [InlineData("GlobalAvgPool", "True", "0")]
    [InlineData("GlobalAvgPool", "False", "0")]
    [InlineData("GlobalMaxPool", "True", "0")]
    [InlineData("GeneralizedMeanPooling", "True", "0")]
    [InlineData("GeneralizedMeanPoolingP", "False", "0")]
    [InlineData("AdaptiveAvgMaxPool", "True", "0")]
    [InlineData("GlobalAvgPool", "True", "64")]
    [InlineData("GeneralizedMeanPooling", "False", "48")]
    public void Resnet18_head_kinds_match_torchsharp(string pool, string bnneck, string embedding)
    {
        using var model = Model("MODEL.HEADS.POOL_LAYER", pool, "MODEL.HEADS.WITH_BNNECK", bnneck, "MODEL.HEADS.EMBEDDING_DIM", embedding);
        AssertMatches(model, expectedDim: embedding == "0" ? 128 : long.Parse(embedding, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Learnt_gem_exponent_is_exported_as_learnt()
    {
        using var model = Model("MODEL.HEADS.POOL_LAYER", "GeneralizedMeanPoolingP");
        using (torch.no_grad())
            model.named_parameters().Single(p => p.name.EndsWith("pool_layer.p", StringComparison.Ordinal)).parameter.fill_(4.5);
        var proto = BaselineOnnxWriter.Write(model, 64, 32);
        var exponent = proto.Graph.Initializer.Single(t => t.Name == "heads.pool.p");
        Assert.Equal(4.5f, BitConverter.ToSingle(exponent.RawData.ToByteArray()));
        AssertMatches(model);
    }

    [Fact]
    public void SyncBN_model_exports_as_the_eval_mode_batch_norm_it_is()
    {
        using var model = Model("MODEL.BACKBONE.NORM", "syncBN", "MODEL.HEADS.NORM", "syncBN", "MODEL.BACKBONE.WITH_IBN", "True");
        Assert.Contains(model.modules(), m => m is FastReid.Modeling.Layers.SyncBatchNorm);
        AssertMatches(model);
    }

    [Fact]
    public void Ibn_a_and_last_stride_1_match_torchsharp()
    {
        using var model = Model("MODEL.BACKBONE.WITH_IBN", "True", "MODEL.BACKBONE.LAST_STRIDE", "1");
        AssertMatches(model);
    }

    /// <summary>The other depths differ only in block counts; the graph must follow them (e.g. R101's 23 blocks of layer3).</summary>
    [Theory]
    [InlineData("34x", "128", 16)]
    [InlineData("101x", "512", 33)]
    public void Resnet34_and_101_match_torchsharp(string depth, string featDim, int blocks)
    {
        using var model = Model("MODEL.BACKBONE.DEPTH", depth, "MODEL.BACKBONE.FEAT_DIM", featDim);
        var proto = BaselineOnnxWriter.Write(model, 64, 32);
        using var r18 = Model();
        var r18Proto = BaselineOnnxWriter.Write(r18, 64, 32);
        // one residual Add per block: R18 has 8 blocks, and the rest of the graph is the same
        Assert.Equal(blocks - 8, proto.Graph.Node.Count(n => n.OpType == "Add") - r18Proto.Graph.Node.Count(n => n.OpType == "Add"));
        AssertMatches(model, expectedDim: long.Parse(featDim, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Resnet50_bottlenecks_with_ibn_and_non_local_match_torchsharp()
    {
        using var model = Model("MODEL.BACKBONE.DEPTH", "50x", "MODEL.BACKBONE.FEAT_DIM", "512",
            "MODEL.BACKBONE.WITH_IBN", "True", "MODEL.BACKBONE.WITH_NL", "True");
        var proto = BaselineOnnxWriter.Write(model, 64, 32);
        Assert.Contains(proto.Graph.Node, n => n.OpType == "InstanceNormalization");
        Assert.Contains(proto.Graph.Node, n => n.OpType == "MatMul");
        AssertMatches(model, expectedDim: 512);
    }

    [Fact]
    public void Odd_input_size_keeps_pytorch_ceil_mode_pooling_sizes()
    {
        // 70x38: conv1 gives 35x19, where ONNX's and PyTorch's ceil-mode rules could disagree
        using var model = Model();
        AssertMatches(model, h: 70, w: 38);
    }

    [Fact]
    public void Graph_normalises_inside_folds_batch_norms_and_has_a_dynamic_batch_axis()
    {
        using var model = Model();
        var proto = BaselineOnnxWriter.Write(model, 64, 32);
        Assert.Equal(17, proto.OpsetImport.Single().Version);
        var input = proto.Graph.Input.Single();
        Assert.Equal("images", input.Name);
        var dims = input.Type.TensorType.Shape.Dim;
        Assert.Equal("batch", dims[0].DimParam);
        Assert.Equal([3L, 64L, 32L], dims.Skip(1).Select(d => d.DimValue));
        Assert.Equal("features", proto.Graph.Output.Single().Name);
        Assert.Equal(["Sub", "Div"], proto.Graph.Node.Take(2).Select(n => n.OpType));
        Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.Equal(20, proto.Graph.Node.Count(n => n.OpType == "Conv")); // stem, 16 block convs, 3 downsamples

        // and a dynamic graph runs at any batch size
        using var session = Session(proto);
        var (_, shape) = OnnxVerifier.Run(session, new float[3 * 3 * 64 * 32], [3, 3, 64, 32]);
        Assert.Equal([3L, 128L], shape);
    }

    [Fact]
    public void Static_batch_fixes_the_batch_axis()
    {
        using var model = Model();
        var proto = BaselineOnnxWriter.Write(model, 64, 32, staticBatch: 4);
        Assert.Equal(4, proto.Graph.Input.Single().Type.TensorType.Shape.Dim[0].DimValue);
        Assert.Equal(4, proto.Graph.Output.Single().Type.TensorType.Shape.Dim[0].DimValue);
        using var session = Session(proto);
        Assert.ThrowsAny<OnnxRuntimeException>(() => OnnxVerifier.Run(session, new float[2 * 3 * 64 * 32], [2, 3, 64, 32]));
    }

    [Fact]
    public void Verifier_catches_a_graph_that_differs_from_the_model()
    {
        using var model = Model();
        var proto = BaselineOnnxWriter.Write(model, 64, 32);
        using var session = Session(proto);
        using (torch.no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name == "backbone.layer4.1.conv2.weight") p.mul_(1.01);
        var check = OnnxVerifier.CompareRandom(model, session, 7, 64, 32, Tolerance, seed: 3);
        Assert.False(check.Passed);
        Assert.True(check.MaxRelativeError > Tolerance);
    }

    [Fact]
    public void Export_writes_model_and_figures_after_verification()
    {
        using var model = Model();
        var logs = new List<string>();
        var report = OnnxExporter.Export(model, new OnnxExportOptions(64, 32), _dir, logs.Add);
        Assert.True(report.Passed);
        Assert.True(File.Exists(Path.Combine(_dir, "model.onnx")));
        Assert.Equal(["model.onnx", "verify.json"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "verify.json")));
        var root = json.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal("dynamic", root.GetProperty("batch").GetString());
        Assert.Equal([1, 7], root.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("batch").GetInt32()));
        Assert.InRange(root.GetProperty("max_relative_error").GetDouble(), 0, Tolerance);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(_dir, "model.onnx")))),
            root.GetProperty("model_sha256").GetString());
        Assert.Equal(2, logs.Count(l => l.StartsWith("verify batch", StringComparison.Ordinal)));

        // the operator's result contract: model path, digest and figures, within 4 KB
        var resultText = OnnxExporter.Result(report, Path.Combine(_dir, "model.onnx"), Path.Combine(_dir, "verify.json")).ToJson();
        Assert.True(resultText.Length <= 4096);
        using var result = JsonDocument.Parse(resultText);
        Assert.Equal(Path.Combine(_dir, "model.onnx"), result.RootElement.GetProperty("artefacts").GetProperty("export").GetString());
        Assert.Equal(root.GetProperty("model_sha256").GetString(), result.RootElement.GetProperty("sha256").GetProperty("model.onnx").GetString());
        Assert.Equal(report.MaxRelativeError, result.RootElement.GetProperty("verify").GetProperty("max_relative_error").GetDouble());
        Assert.Equal(report.MaxAbsError, result.RootElement.GetProperty("verify").GetProperty("max_abs_error").GetDouble());
    }

    [Fact]
    public void Export_beyond_tolerance_fails_and_leaves_no_model()
    {
        using var model = Model();
        File.WriteAllText(Path.Combine(_dir, "model.onnx"), "an earlier export");
        var e = Assert.Throws<ExportVerificationException>(() => OnnxExporter.Export(model, new OnnxExportOptions(64, 32, Tolerance: 1e-12), _dir, _ => { }));
        Assert.Contains("verification failed", e.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "model.onnx")));
        Assert.Equal(["verify.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "verify.json")));
        Assert.False(json.RootElement.GetProperty("passed").GetBoolean());
        Assert.True(json.RootElement.GetProperty("max_relative_error").GetDouble() > 1e-12);
    }

    [Fact]
    public void Opset_below_17_is_refused_by_name()
    {
        using var model = Model();
        var e = Assert.Throws<FastReidException>(() => BaselineOnnxWriter.Write(model, 64, 32, opset: 13));
        Assert.Contains("--opset 13", e.Message);
        var target = Path.Combine(_dir, "refused");
        Assert.Throws<FastReidException>(() => OnnxExporter.Export(model, new OnnxExportOptions(64, 32, Opset: 13), target, _ => { }));
        Assert.False(Directory.Exists(target));
    }
}
