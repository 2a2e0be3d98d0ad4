using FastReid.Config;
using TorchSharp;
using TorchSharp.Modules;
using FastReid.Modeling.MetaArch;
using static TorchSharp.torch;

namespace FastReid.Solver;

/// <summary>One group of parameters sharing base learning rate, weight decay and freeze status.</summary>
public sealed record ParameterGroup(string Key, double BaseLr, double WeightDecay, bool Freezable, List<Parameter> Parameters);

/// <summary>
/// Builds the optimizer the way FastReID's <c>get_default_optimizer_params</c> does: head parameters
/// get <c>HEADS_LR_FACTOR</c>, biases <c>BIAS_LR_FACTOR</c> and <c>WEIGHT_DECAY_BIAS</c>, normalisation
/// layers <c>WEIGHT_DECAY_NORM</c>; parameters with <c>requires_grad</c> off (the BNNeck bias) are left out.
/// <c>MODEL.FREEZE_LAYERS</c> matches the names of the meta-architecture's top-level modules.
/// </summary>
public static class OptimizerBuilder
{
    public static (OptimizerHelper Optimizer, IReadOnlyList<ParameterGroup> Groups) Build(FastReidConfig cfg, MetaArch model)
    {
        double baseLr = cfg.Float("SOLVER.BASE_LR");
        double wd = cfg.Float("SOLVER.WEIGHT_DECAY"), wdNorm = cfg.Float("SOLVER.WEIGHT_DECAY_NORM"), wdBias = cfg.Float("SOLVER.WEIGHT_DECAY_BIAS");
        double headsFactor = cfg.Float("SOLVER.HEADS_LR_FACTOR"), biasFactor = cfg.Float("SOLVER.BIAS_LR_FACTOR");
        var freeze = cfg.Strings("MODEL.FREEZE_LAYERS").ToHashSet(StringComparer.Ordinal);
        bool freezing = freeze.Count > 0 && cfg.Int("SOLVER.FREEZE_ITERS") > 0;

        var groups = new Dictionary<string, ParameterGroup>(StringComparer.Ordinal);
        var seen = new HashSet<IntPtr>();
        // the walk is the whole module tree's, in its own order (the groups' and parameters' order is the
        // optimizer state's layout); each module is matched to the top-level module it belongs to
        var topOf = new Dictionary<nn.Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var (topName, top) in model.TopLevel())
        {
            topOf[top] = topName;
            foreach (var (_, sub) in top.named_modules()) topOf[sub] = topName;
        }
        foreach (var (moduleName, module) in model.named_modules())
        {
            bool isNorm = module is BatchNorm or InstanceNorm2d or GroupNorm or LayerNorm;
            foreach (var (paramName, p) in module.named_parameters(recurse: false))
            {
                if (!p.requires_grad || !seen.Add(p.Handle)) continue;
                if (!topOf.TryGetValue(module, out var topName))
                    throw new InvalidOperationException($"{model.GetName()}: the trainable module '{moduleName}' is in none of its TopLevel() modules");
                double lr = baseLr, decay = isNorm ? wdNorm : wd;
                if (moduleName.Contains("heads", StringComparison.Ordinal)) lr *= headsFactor;
                if (paramName == "bias") { lr *= biasFactor; decay = wdBias; }
                bool freezable = freezing && freeze.Contains(topName);
                var key = FormattableString.Invariant($"{lr:R}|{decay:R}|{freezable}");
                if (!groups.TryGetValue(key, out var group))
                    groups[key] = group = new ParameterGroup(key, lr, decay, freezable, []);
                group.Parameters.Add(p);
            }
        }
        var list = groups.Values.ToList();
        var opt = cfg.String("SOLVER.OPT");
        OptimizerHelper optimizer = opt switch
        {
            "SGD" => optim.SGD(list.Select(g => new SGD.ParamGroup(g.Parameters, g.BaseLr, cfg.Float("SOLVER.MOMENTUM"), 0, g.WeightDecay, cfg.Bool("SOLVER.NESTEROV"), false)), baseLr),
            "Adam" => optim.Adam(list.Select(g => new Adam.ParamGroup(g.Parameters, g.BaseLr, 0.9, 0.999, 1e-8, g.WeightDecay, false, false)), baseLr),
            "AdamW" => optim.AdamW(list.Select(g => new AdamW.ParamGroup(g.Parameters, g.BaseLr, 0.9, 0.999, 1e-8, g.WeightDecay, false, false)), baseLr),
            _ => throw new FastReidException($"SOLVER.OPT: unknown optimizer '{opt}' (SGD, Adam, AdamW)"),
        };
        return (optimizer, list);
    }
}
