using FastReid.Distributed;
using FastReid.Modeling.Layers;
using FastReid.Modeling.MetaArch;
using FastReid.Solver;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Modeling;

/// <summary>A <c>syncBN</c> model trained alone is the BN model: same weights' names, same step, bit for bit.</summary>
public sealed class SyncBnModelTests
{
    private static readonly string[] SyncBn = ["MODEL.BACKBONE.NORM", "syncBN", "MODEL.HEADS.NORM", "syncBN"];

    private static FastReid.Config.FastReidConfig Config(bool sync, params string[] more) =>
        ModelTests.TinyConfig(["MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "MODEL.BACKBONE.WITH_IBN", "True",
            .. sync ? SyncBn : [], .. more]);

    [Fact]
    public void Every_batch_norm_of_a_syncBN_config_is_synchronised_and_named_as_BatchNorm2d()
    {
        using var bn = new Baseline(Config(sync: false), numClasses: 4);
        using var sync = new Baseline(Config(sync: true), numClasses: 4);
        static bool Plain(object m) => m is PlainBatchNorm and not SyncBatchNorm;
        Assert.DoesNotContain(sync.modules(), Plain);
        Assert.Equal(bn.modules().Count(Plain), sync.modules().Count(m => m is SyncBatchNorm));
        // TorchSharp's own BatchNorm2d counts batches with an implicit Scalar a GC can free mid-call: none is left
        Assert.DoesNotContain(bn.modules(), m => m is BatchNorm2d);
        Assert.True(bn.modules().Count(Plain) > 0);
        Assert.Equal(bn.state_dict().Keys, sync.state_dict().Keys);
        Assert.Contains("heads.bottleneck.0.num_batches_tracked", sync.state_dict().Keys);
    }

    [Fact]
    public void Weights_move_between_BN_and_syncBN_models_both_ways()
    {
        using var bn = new Baseline(Config(sync: false), numClasses: 4);
        using var sync = new Baseline(Config(sync: true), numClasses: 4);
        using (no_grad()) foreach (var (_, p) in bn.named_parameters()) p.add_(torch.randn_like(p) * 0.01);
        sync.load_state_dict(bn.state_dict());
        using var back = new Baseline(Config(sync: false), numClasses: 4);
        back.load_state_dict(sync.state_dict());
        foreach (var (name, value) in bn.state_dict())
            Assert.True(value.eq(back.state_dict()[name]).all().item<bool>(), name);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_training_step_alone_equals_the_BN_models_bit_for_bit(bool attachedToAGroupOfOne)
    {
        // inputs from a private generator and one initial state for both models: test classes run in
        // parallel, so torch's global generator is no way to make two models start alike
        var g = new Generator(5);
        using var images = torch.rand([8, 3, 64, 32], generator: g) * 255;
        using var targets = torch.tensor(new long[] { 0, 0, 1, 1, 2, 2, 3, 3 });
        Dictionary<string, Tensor> initial;
        using (var init = new Baseline(Config(sync: false), numClasses: 4))
            initial = init.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var (bnLosses, bnState) = Step(Config(sync: false), initial, null, images, targets);
        using var single = new SingleProcessCollectives();
        var (syncLosses, syncState) = Step(Config(sync: true), initial, attachedToAGroupOfOne ? single : null, images, targets);
        Assert.Equal(bnLosses, syncLosses);
        Assert.Equal(bnState.Keys, syncState.Keys);
        foreach (var (name, value) in bnState) Assert.True(value.SequenceEqual(syncState[name]), name);
    }

    /// <summary>One SGD step from <paramref name="initial"/>; the losses and every weight and buffer after it.</summary>
    private static (float[] Losses, Dictionary<string, float[]> State) Step(FastReid.Config.FastReidConfig cfg, Dictionary<string, Tensor> initial,
        ICollectives? group, Tensor images, Tensor targets)
    {
        using var model = new Baseline(cfg, numClasses: 4);
        model.load_state_dict(initial);
        if (group is not null) DistributedModel.Attach(model, group);
        var (optimizer, _) = OptimizerBuilder.Build(cfg, model);
        model.train();
        using var scope = NewDisposeScope();
        var losses = model.Losses(images, targets);
        losses.Values.Aggregate((a, b) => a + b).backward();
        optimizer.step();
        var state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(float32).data<float>().ToArray());
        return ([.. losses.OrderBy(kv => kv.Key).Select(kv => kv.Value.item<float>())], state);
    }
}
