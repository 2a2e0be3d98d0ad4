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
/// Backbone, head and losses come from their registries by the names in the config. The Distillers extend it
/// (as in FastReID), so a distilled student's weights have a Baseline's names.
/// </summary>
public class Baseline : MetaArch
{
    private readonly Backbone backbone;
    private readonly EmbeddingHead heads;
    private readonly Tensor pixel_mean, pixel_std;
    private readonly IReadOnlyList<LossTerm> _losses;

    public override long EmbeddingDim => heads.EmbeddingDim;
    public override int NumClasses { get; }

    public Baseline(FastReidConfig cfg, int numClasses) : this(cfg, numClasses, nameof(Baseline)) { }

    protected Baseline(FastReidConfig cfg, int numClasses, string name) : base(name)
    {
        backbone = BackboneRegistry.Build(cfg);
        long featDim = cfg.Long("MODEL.BACKBONE.FEAT_DIM");
        if (featDim != backbone.OutChannels)
            throw new FastReidException(
                $"MODEL.BACKBONE.FEAT_DIM is {featDim} but ResNet-{cfg.String("MODEL.BACKBONE.DEPTH")} gives {backbone.OutChannels} channels; set MODEL.BACKBONE.FEAT_DIM {backbone.OutChannels}");
        heads = HeadRegistry.Build(cfg, featDim, numClasses);
        var mean = cfg.Floats("MODEL.PIXEL_MEAN");
        var std = cfg.Floats("MODEL.PIXEL_STD");
        if (mean.Length != 3 || std.Length != 3) throw new FastReidException("MODEL.PIXEL_MEAN and MODEL.PIXEL_STD need 3 values each (RGB)");
        pixel_mean = torch.tensor(mean.Select(v => (float)v).ToArray()).view(1, 3, 1, 1);
        pixel_std = torch.tensor(std.Select(v => (float)v).ToArray()).view(1, 3, 1, 1);
        _losses = LossRegistry.Build(cfg);
        NumClasses = numClasses;
        register_buffer("pixel_mean", pixel_mean, persistent: false);
        register_buffer("pixel_std", pixel_std, persistent: false);
        RegisterComponents();
    }

    protected internal Backbone Backbone => backbone;

    protected internal EmbeddingHead Heads => heads;

    /// <summary>RGB 0–255 images normalised with this model's PIXEL_MEAN/STD.</summary>
    protected internal Tensor Preprocess(Tensor images) => (images - pixel_mean) / pixel_std;

    /// <summary>Evaluation embedding of RGB 0–255 images [N, 3, H, W].</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        return heads.forward(backbone.forward(Preprocess(images))).MoveToOuterDisposeScope();
    }

    /// <summary>Training forward: the weighted loss terms by name (FastReID's loss_cls, loss_triplet, ...).</summary>
    public override Dictionary<string, Tensor> Losses(Tensor images, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var outputs = heads.ForwardTrain(backbone.forward(Preprocess(images)), targets);
        var terms = BaselineLosses(outputs, targets);
        foreach (var t in terms.Values) t.MoveToOuterDisposeScope();
        return terms;
    }

    /// <summary>The configured loss terms (MODEL.LOSSES.NAME) of the head's training outputs, in registration order.</summary>
    protected Dictionary<string, Tensor> BaselineLosses(HeadOutputs outputs, Tensor targets)
    {
        var terms = new Dictionary<string, Tensor>();
        foreach (var loss in _losses) terms[loss.Name] = loss.Compute(outputs, targets, Group);
        return terms;
    }

    /// <summary>FastReID's FREEZE_LAYERS names top-level modules: backbone, heads.</summary>
    public override IReadOnlyList<(string Name, nn.Module Module)> TopLevel() => [("backbone", backbone), ("heads", heads)];

    /// <summary>
    /// The head's training outputs (class logits with and without margin, metric features) under no_grad, for a
    /// frozen teacher: the caller puts it in eval mode, so its batch norms use their running statistics.
    /// </summary>
    internal HeadOutputs TeacherOutputs(Tensor images, Tensor targets)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var o = heads.ForwardTrain(backbone.forward(Preprocess(images)), targets);
        return new HeadOutputs(o.ClsOutputs.MoveToOuterDisposeScope(), o.Logits.MoveToOuterDisposeScope(), o.Features.MoveToOuterDisposeScope());
    }
}
