using FastReid.Config;
using FastReid.Modeling.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Modeling.Heads;

/// <summary>What the head returns in training: classifier outputs, raw logits (for KD) and the metric features.</summary>
public sealed record HeadOutputs(Tensor ClsOutputs, Tensor Logits, Tensor Features);

/// <summary>
/// FastReID's EmbeddingHead: global pooling, optional 1x1 embedding conv, optional BNNeck (bias frozen),
/// class weights <c>weight</c> [classes, dim]. In evaluation it returns the neck feature, as FastReID does.
/// </summary>
public sealed class EmbeddingHead : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> pool_layer;
    private readonly Sequential bottleneck;
    private readonly Parameter weight;
    private readonly AnySoftmax _cls;
    private readonly bool _neckAfter;

    public long EmbeddingDim { get; }

    public EmbeddingHead(long featDim, long embeddingDim, int numClasses, bool withBnNeck, string norm, string pool,
        string neckFeat, string clsLayer, double scale, double margin) : base(nameof(EmbeddingHead))
    {
        if (numClasses < 1) throw new FastReidException("MODEL.HEADS.NUM_CLASSES must be at least 1");
        pool_layer = Pooling.Create(pool);
        var neck = new List<(string, nn.Module<Tensor, Tensor>)>();
        long dim = featDim;
        if (embeddingDim > 0)
        {
            var conv = nn.Conv2d(featDim, embeddingDim, 1, bias: false);
            nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
            neck.Add(("0", conv));
            dim = embeddingDim;
        }
        if (withBnNeck) neck.Add((neck.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Norms.Create(norm, dim, biasFreeze: true)));
        bottleneck = nn.Sequential(neck.ToArray());
        weight = nn.Parameter(torch.empty(numClasses, dim));
        nn.init.normal_(weight, 0, 0.01);
        _cls = new AnySoftmax(clsLayer, scale, margin);
        _neckAfter = neckFeat switch
        {
            "before" => false,
            "after" => true,
            _ => throw new FastReidException($"MODEL.HEADS.NECK_FEAT must be 'before' or 'after' (got '{neckFeat}')"),
        };
        EmbeddingDim = dim;
        RegisterComponents();
    }

    public static EmbeddingHead FromConfig(FastReidConfig cfg, long featDim, int numClasses) => new(
        featDim, cfg.Long("MODEL.HEADS.EMBEDDING_DIM"), numClasses, cfg.Bool("MODEL.HEADS.WITH_BNNECK"),
        cfg.String("MODEL.HEADS.NORM"), cfg.String("MODEL.HEADS.POOL_LAYER"), cfg.String("MODEL.HEADS.NECK_FEAT"),
        cfg.String("MODEL.HEADS.CLS_LAYER"), cfg.Float("MODEL.HEADS.SCALE"), cfg.Float("MODEL.HEADS.MARGIN"));

    /// <summary>Evaluation: the embedding [N, dim] after the neck.</summary>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var neck = bottleneck.forward(pool_layer.forward(features));
        return neck.flatten(1).MoveToOuterDisposeScope();
    }

    public HeadOutputs ForwardTrain(Tensor features, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var pooled = pool_layer.forward(features);
        var neck = bottleneck.forward(pooled).flatten(1);
        var logits = _cls.UsesCosine
            ? nn.functional.linear(nn.functional.normalize(neck), nn.functional.normalize(weight))
            : nn.functional.linear(neck, weight);
        var clsOutputs = _cls.Apply(logits, targets);
        var feat = _neckAfter ? neck : pooled.flatten(1);
        var outputs = new HeadOutputs(clsOutputs.MoveToOuterDisposeScope(), (logits * _cls.Scale).MoveToOuterDisposeScope(), feat.MoveToOuterDisposeScope());
        return outputs;
    }
}
