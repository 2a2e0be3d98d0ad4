using FastReid.Config;
using FastReid.Core.Tests.Modeling;
using FastReid.Engine;
using FastReid.Modeling.Backbones;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Engine;

public sealed class WeightLoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("weights-").FullName;
    private readonly ProgressReporter _quiet = new(TextWriter.Null, interactive: false);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A torchvision-named ResNet-18 state dict (with the ImageNet classifier fc.*).</summary>
    private static Dictionary<string, Tensor> TorchvisionResnet18()
    {
        torch.manual_seed(42);
        using var backbone = new ResNet(18, 2, "BN", withIbn: false, withNl: false);
        var state = backbone.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        state["fc.weight"] = torch.randn(1000, 512);
        state["fc.bias"] = torch.randn(1000);
        return state;
    }

    [Theory]
    [InlineData(".pth")]
    [InlineData(".safetensors")]
    public void Pretrain_path_loads_a_torchvision_state_dict_into_the_backbone(string extension)
    {
        var source = TorchvisionResnet18();
        var path = Path.Combine(_dir, "resnet18" + extension);
        if (extension == ".pth") PyTorchPickler.PickleStateDict(path, source);
        else Safetensors.SaveStateDict(path, source);

        var cfg = ModelTests.TinyConfig("MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH", path);
        using var model = new Baseline(cfg, numClasses: 3);
        WeightLoading.LoadInitialWeights(cfg, model, _quiet);
        var target = model.state_dict();
        foreach (var name in new[] { "conv1.weight", "layer3.1.conv2.weight", "layer4.0.downsample.1.running_var" })
            Assert.True(target["backbone." + name].allclose(source[name], rtol: 0, atol: 0), name);
    }

    [Fact]
    public void Saved_models_reload_with_identical_outputs()
    {
        var cfg = ModelTests.TinyConfig();
        using var model = new Baseline(cfg, numClasses: 4);
        var path = Path.Combine(_dir, "model.pth");
        WeightLoading.Save(model, path);
        using var again = new Baseline(ModelTests.TinyConfig(), numClasses: 4);
        var report = WeightLoading.Load(again, WeightLoading.ReadStateDict(path, "MODEL.WEIGHTS"), "", path);
        Assert.DoesNotContain("not in the file", report);
        model.eval();
        again.eval();
        using var _ = torch.no_grad();
        using var x = torch.rand(2, 3, 64, 32) * 255;
        Assert.True(model.forward(x).allclose(again.forward(x), rtol: 0, atol: 0));
        Assert.Equal(ArtefactFiles.WeightsSha256(model), ArtefactFiles.WeightsSha256(again));
    }

    [Fact]
    public void Pretrain_without_a_path_and_unrelated_files_are_refused_clearly()
    {
        var cfg = ModelTests.TinyConfig("MODEL.BACKBONE.PRETRAIN", "True");
        using var model = new Baseline(cfg, numClasses: 3);
        Assert.Contains("PRETRAIN_PATH is empty", Assert.Throws<ConfigException>(() => WeightLoading.LoadInitialWeights(cfg, model, _quiet)).Message);
        var junk = Path.Combine(_dir, "junk.pth");
        File.WriteAllText(junk, "not a checkpoint");
        var cfg2 = ModelTests.TinyConfig("MODEL.WEIGHTS", junk);
        Assert.Contains("junk.pth", Assert.Throws<FastReidException>(() => WeightLoading.LoadInitialWeights(cfg2, model, _quiet)).Message);
        var other = Path.Combine(_dir, "other.pth");
        PyTorchPickler.PickleStateDict(other, new Dictionary<string, Tensor> { ["encoder.w"] = torch.zeros(3) });
        var cfg3 = ModelTests.TinyConfig("MODEL.WEIGHTS", other);
        Assert.Contains("shares no tensor names", Assert.Throws<FastReidException>(() => WeightLoading.LoadInitialWeights(cfg3, model, _quiet)).Message);
    }

    /// <summary>A tiny Baseline's weights on disk, and the config that describes them.</summary>
    private (FastReidConfig Config, string Path) SavedTiny(params string[] more)
    {
        var cfg = ModelTests.TinyConfig(["MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", .. more]);
        using var model = new Baseline(cfg, numClasses: 4);
        var path = Path.Combine(_dir, $"tiny-{more.Length}.pth");
        WeightLoading.Save(model, path);
        return (cfg, path);
    }

    private static FastReidConfig Inference(FastReidConfig cfg, string weights, params string[] more)
    {
        var c = cfg.Clone();
        c.ApplyOverrides(["MODEL.WEIGHTS", weights, .. more]);
        return c;
    }

    [Fact]
    public void Inference_refuses_weights_of_another_depth_naming_the_keys_and_the_way_around()
    {
        var (cfg, path) = SavedTiny();
        var e = Assert.Throws<FastReidException>(() => InferenceModel.Load(Inference(cfg, path, "MODEL.BACKBONE.DEPTH", "34x"), CPU, _ => { }).Dispose());
        Assert.Contains($"MODEL.WEIGHTS '{path}' does not fill the model its config describes (missing: backbone.layer1.2.conv1.weight", e.Message);
        Assert.Contains("is the config the one these weights were trained with?", e.Message);
        Assert.Contains("--allow-partial-weights", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        var lines = new List<string>();
        using var partial = InferenceModel.Load(Inference(cfg, path, "MODEL.BACKBONE.DEPTH", "34x"), CPU, lines.Add, allowPartial: true);
        Assert.Contains("--allow-partial-weights: loaded", Assert.Single(lines));
        Assert.Contains("not in the file: backbone.layer1.2.conv1.weight", lines[0]);
    }

    [Fact]
    public void Inference_refuses_weights_with_tensors_the_model_lacks()
    {
        var (cfg, path) = SavedTiny();
        var e = Assert.Throws<FastReidException>(() => InferenceModel.Load(Inference(cfg, path, "MODEL.HEADS.WITH_BNNECK", "False"), CPU, _ => { }).Dispose());
        Assert.True(e.Message.Contains("not in the model: heads.bottleneck.0.bias, heads.bottleneck.0.running_mean", StringComparison.Ordinal), e.Message); // the BNNeck the config leaves out
    }

    [Fact]
    public void Inference_loads_weights_that_fill_the_model_exactly()
    {
        var (cfg, path) = SavedTiny();
        var lines = new List<string>();
        using var model = InferenceModel.Load(Inference(cfg, path), CPU, lines.Add);
        Assert.StartsWith("loaded ", Assert.Single(lines));
        Assert.DoesNotContain(";", lines[0]);
    }

    [Fact]
    public void Training_from_model_weights_skips_a_classifier_for_other_identities_as_fastreid_does()
    {
        var (cfg, path) = SavedTiny();
        var train = Inference(cfg, path);
        using var model = new Baseline(train, numClasses: 7);
        var report = new StringWriter();
        WeightLoading.LoadInitialWeights(train, model, new ProgressReporter(report, interactive: false));
        Assert.Contains("skipped for shape: heads.weight [4, 128] vs [7, 128]", report.ToString());
    }
}
