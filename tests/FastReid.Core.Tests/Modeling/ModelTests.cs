using FastReid.Config;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Modeling;

public sealed class ModelTests
{
    internal static FastReidConfig TinyConfig(params string[] overrides)
    {
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(["MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", "512", "MODEL.BACKBONE.PRETRAIN", "False",
            "MODEL.HEADS.WITH_BNNECK", "True", "MODEL.LOSSES.NAME", "('CrossEntropyLoss','TripletLoss')", "MODEL.LOSSES.TRI.HARD_MINING", "True",
            "MODEL.DEVICE", "cpu", .. overrides]);
        return cfg;
    }

    [Fact]
    public void Parameter_names_follow_torchvision_and_fastreid()
    {
        using var model = new Baseline(TinyConfig(), numClasses: 5);
        var names = model.state_dict().Keys.ToHashSet();
        Assert.Contains("backbone.conv1.weight", names);
        Assert.Contains("backbone.bn1.running_mean", names);
        Assert.Contains("backbone.layer1.0.conv1.weight", names);
        Assert.Contains("backbone.layer2.0.downsample.0.weight", names);
        Assert.Contains("backbone.layer2.0.downsample.1.weight", names);
        Assert.Contains("heads.bottleneck.0.weight", names);
        Assert.Contains("heads.weight", names);
        Assert.DoesNotContain("pixel_mean", names);
        Assert.DoesNotContain(names, n => n.Contains("fc."));
    }

    [Fact]
    public void Ibn_and_nonlocal_blocks_carry_fastreid_names()
    {
        using var model = new Baseline(TinyConfig("MODEL.BACKBONE.DEPTH", "50x", "MODEL.BACKBONE.FEAT_DIM", "2048",
            "MODEL.BACKBONE.WITH_IBN", "True", "MODEL.BACKBONE.WITH_NL", "True"), numClasses: 3);
        var names = model.state_dict().Keys.ToHashSet();
        Assert.Contains("backbone.layer1.0.bn1.IN.weight", names);
        Assert.Contains("backbone.layer1.0.bn1.BN.running_var", names);
        Assert.DoesNotContain("backbone.layer4.0.bn1.IN.weight", names);
        Assert.Contains("backbone.NL_2.1.W.1.weight", names);
        Assert.Contains("backbone.NL_3.2.g.weight", names);
        Assert.DoesNotContain("backbone.NL_1.0.g.weight", names);
    }

    [Fact]
    public void Forward_gives_embedding_and_training_gives_losses()
    {
        using var model = new Baseline(TinyConfig(), numClasses: 4);
        using var images = torch.rand(8, 3, 64, 32) * 255;
        using var targets = torch.tensor(new long[] { 0, 0, 1, 1, 2, 2, 3, 3 });
        model.train();
        var losses = model.Losses(images, targets);
        Assert.Equal(["loss_cls", "loss_triplet"], losses.Keys.Order());
        Assert.All(losses.Values, l => Assert.True(float.IsFinite(l.item<float>()) && l.item<float>() > 0));
        model.eval();
        using var _ = torch.no_grad();
        using var emb = model.forward(images);
        Assert.Equal(new long[] { 8, 512 }, emb.shape);
    }

    [Fact]
    public void Frozen_bnneck_bias_gets_no_gradient()
    {
        using var model = new Baseline(TinyConfig(), numClasses: 4);
        var bias = model.named_parameters().Single(p => p.name == "heads.bottleneck.0.bias").parameter;
        Assert.False(bias.requires_grad);
    }
}
