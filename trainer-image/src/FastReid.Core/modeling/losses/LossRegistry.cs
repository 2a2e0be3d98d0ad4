using FastReid.Config;
using FastReid.Distributed;
using FastReid.Modeling.Heads;
using static TorchSharp.torch;

namespace FastReid.Modeling.Losses;

/// <summary>
/// One weighted loss term of the training forward: its name in the step's losses and how it is computed from
/// the head's outputs, the targets and the data-parallel group (null when training alone; only the triplet
/// loss uses it, as in FastReID).
/// </summary>
public sealed record LossTerm(string Name, Func<HeadOutputs, Tensor, ICollectives?, Tensor> Compute);

/// <summary>
/// The losses <c>MODEL.LOSSES.NAME</c> selects (FastReID's names), each built from its <c>MODEL.LOSSES.*</c>
/// settings. <see cref="Build"/> returns them in registration order, not the config's order: the terms
/// are summed in that order, and a float sum in another order is another number.
/// </summary>
public static class LossRegistry
{
    public static Registry<Func<FastReidConfig, LossTerm>> Registry { get; } = new("MODEL.LOSSES.NAME",
    [
        ("CrossEntropyLoss", cfg =>
        {
            double epsilon = cfg.Float("MODEL.LOSSES.CE.EPSILON"), alpha = cfg.Float("MODEL.LOSSES.CE.ALPHA"), scale = cfg.Float("MODEL.LOSSES.CE.SCALE");
            return new LossTerm("loss_cls", (o, t, _) => Losses.CrossEntropy(o.ClsOutputs, t, epsilon, alpha) * scale);
        }),
        ("TripletLoss", cfg =>
        {
            double margin = cfg.Float("MODEL.LOSSES.TRI.MARGIN"), scale = cfg.Float("MODEL.LOSSES.TRI.SCALE");
            bool normFeat = cfg.Bool("MODEL.LOSSES.TRI.NORM_FEAT"), hardMining = cfg.Bool("MODEL.LOSSES.TRI.HARD_MINING");
            return new LossTerm("loss_triplet", (o, t, group) => Losses.Triplet(o.Features, t, margin, normFeat, hardMining, group) * scale);
        }),
        ("CircleLoss", cfg =>
        {
            double margin = cfg.Float("MODEL.LOSSES.CIRCLE.MARGIN"), gamma = cfg.Float("MODEL.LOSSES.CIRCLE.GAMMA"), scale = cfg.Float("MODEL.LOSSES.CIRCLE.SCALE");
            return new LossTerm("loss_circle", (o, t, _) => Losses.Circle(o.Features, t, margin, gamma) * scale);
        }),
        ("Cosface", cfg =>
        {
            double margin = cfg.Float("MODEL.LOSSES.COSFACE.MARGIN"), gamma = cfg.Float("MODEL.LOSSES.COSFACE.GAMMA"), scale = cfg.Float("MODEL.LOSSES.COSFACE.SCALE");
            return new LossTerm("loss_cosface", (o, t, _) => Losses.CosFace(o.Features, t, margin, gamma) * scale);
        }),
    ],
    new Dictionary<string, string> { ["FocalLoss"] = "FocalLoss is not supported yet" });

    /// <summary>The configured loss terms, each name checked, in registration order.</summary>
    public static IReadOnlyList<LossTerm> Build(FastReidConfig cfg)
    {
        var names = cfg.Strings("MODEL.LOSSES.NAME");
        foreach (var n in names) Registry.Get(n);
        if (names.Length == 0) throw new FastReidException("MODEL.LOSSES.NAME is empty: name at least one loss");
        return Registry.Names.Where(names.Contains).Select(n => Registry.Get(n)(cfg)).ToList();
    }
}
