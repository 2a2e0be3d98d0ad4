using FastReid.Config;
using FastReid.Modeling.Backbones;
using FastReid.Modeling.Heads;
using FastReid.Modeling.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Modeling.MetaArch;

/// <summary>
/// FastReID's Baseline meta-architecture: normalise RGB 0–255 input with <c>MODEL.PIXEL_MEAN/STD</c>
/// (non-persistent buffers, as in FastReID), backbone, embedding head; the configured losses in training.
/// </summary>
public sealed class Baseline : nn.Module<Tensor, Tensor>
{
    private readonly ResNet backbone;
    private readonly EmbeddingHead heads;
    private readonly Tensor pixel_mean, pixel_std;
    private readonly LossSettings _losses;

    public long EmbeddingDim => heads.EmbeddingDim;
    public int NumClasses { get; }

    public Baseline(FastReidConfig cfg, int numClasses) : base(nameof(Baseline))
    {
        if (cfg.String("MODEL.META_ARCHITECTURE") != "Baseline")
            throw new FastReidException($"MODEL.META_ARCHITECTURE '{cfg.String("MODEL.META_ARCHITECTURE")}' is not supported yet (Baseline)");
        backbone = ResNet.FromConfig(cfg);
        long featDim = cfg.Long("MODEL.BACKBONE.FEAT_DIM");
        if (featDim != backbone.OutChannels)
            throw new FastReidException(
                $"MODEL.BACKBONE.FEAT_DIM is {featDim} but ResNet-{cfg.String("MODEL.BACKBONE.DEPTH")} gives {backbone.OutChannels} channels; set MODEL.BACKBONE.FEAT_DIM {backbone.OutChannels}");
        heads = EmbeddingHead.FromConfig(cfg, featDim, numClasses);
        var mean = cfg.Floats("MODEL.PIXEL_MEAN");
        var std = cfg.Floats("MODEL.PIXEL_STD");
        if (mean.Length != 3 || std.Length != 3) throw new FastReidException("MODEL.PIXEL_MEAN and MODEL.PIXEL_STD need 3 values each (RGB)");
        pixel_mean = torch.tensor(mean.Select(v => (float)v).ToArray()).view(1, 3, 1, 1);
        pixel_std = torch.tensor(std.Select(v => (float)v).ToArray()).view(1, 3, 1, 1);
        _losses = LossSettings.FromConfig(cfg);
        NumClasses = numClasses;
        register_buffer("pixel_mean", pixel_mean, persistent: false);
        register_buffer("pixel_std", pixel_std, persistent: false);
        RegisterComponents();
    }

    private Tensor Preprocess(Tensor images) => (images - pixel_mean) / pixel_std;

    /// <summary>Evaluation embedding of RGB 0–255 images [N, 3, H, W].</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        return heads.forward(backbone.forward(Preprocess(images))).MoveToOuterDisposeScope();
    }

    /// <summary>Training forward: the weighted loss terms by name (FastReID's loss_cls, loss_triplet, ...).</summary>
    public Dictionary<string, Tensor> Losses(Tensor images, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var outputs = heads.ForwardTrain(backbone.forward(Preprocess(images)), targets);
        var terms = new Dictionary<string, Tensor>();
        var s = _losses;
        if (s.CrossEntropy) terms["loss_cls"] = Modeling.Losses.Losses.CrossEntropy(outputs.ClsOutputs, targets, s.CeEpsilon, s.CeAlpha) * s.CeScale;
        if (s.Triplet) terms["loss_triplet"] = Modeling.Losses.Losses.Triplet(outputs.Features, targets, s.TriMargin, s.TriNormFeat, s.TriHardMining) * s.TriScale;
        if (s.Circle) terms["loss_circle"] = Modeling.Losses.Losses.Circle(outputs.Features, targets, s.CircleMargin, s.CircleGamma) * s.CircleScale;
        if (s.CosFace) terms["loss_cosface"] = Modeling.Losses.Losses.CosFace(outputs.Features, targets, s.CosMargin, s.CosGamma) * s.CosScale;
        foreach (var t in terms.Values) t.MoveToOuterDisposeScope();
        return terms;
    }

    /// <summary>Parameters of the backbone (FastReID's FREEZE_LAYERS names top-level modules: backbone, heads).</summary>
    public IEnumerable<(string Name, nn.Module Module)> TopLevel() => [("backbone", backbone), ("heads", heads)];
}

/// <summary>Which losses <c>MODEL.LOSSES.NAME</c> selects, with their settings.</summary>
internal sealed record LossSettings(
    bool CrossEntropy, double CeEpsilon, double CeAlpha, double CeScale,
    bool Triplet, double TriMargin, bool TriNormFeat, bool TriHardMining, double TriScale,
    bool Circle, double CircleMargin, double CircleGamma, double CircleScale,
    bool CosFace, double CosMargin, double CosGamma, double CosScale)
{
    private static readonly string[] Known = ["CrossEntropyLoss", "TripletLoss", "CircleLoss", "Cosface"];

    public static LossSettings FromConfig(FastReidConfig cfg)
    {
        var names = cfg.Strings("MODEL.LOSSES.NAME");
        foreach (var n in names)
            if (!Known.Contains(n))
                throw new FastReidException(n == "FocalLoss"
                    ? "MODEL.LOSSES.NAME: FocalLoss is not supported yet"
                    : $"MODEL.LOSSES.NAME: unknown loss '{n}' (known: {string.Join(", ", Known)})");
        if (names.Length == 0) throw new FastReidException("MODEL.LOSSES.NAME is empty: name at least one loss");
        return new LossSettings(
            names.Contains("CrossEntropyLoss"), cfg.Float("MODEL.LOSSES.CE.EPSILON"), cfg.Float("MODEL.LOSSES.CE.ALPHA"), cfg.Float("MODEL.LOSSES.CE.SCALE"),
            names.Contains("TripletLoss"), cfg.Float("MODEL.LOSSES.TRI.MARGIN"), cfg.Bool("MODEL.LOSSES.TRI.NORM_FEAT"), cfg.Bool("MODEL.LOSSES.TRI.HARD_MINING"), cfg.Float("MODEL.LOSSES.TRI.SCALE"),
            names.Contains("CircleLoss"), cfg.Float("MODEL.LOSSES.CIRCLE.MARGIN"), cfg.Float("MODEL.LOSSES.CIRCLE.GAMMA"), cfg.Float("MODEL.LOSSES.CIRCLE.SCALE"),
            names.Contains("Cosface"), cfg.Float("MODEL.LOSSES.COSFACE.MARGIN"), cfg.Float("MODEL.LOSSES.COSFACE.GAMMA"), cfg.Float("MODEL.LOSSES.COSFACE.SCALE"));
    }
}
