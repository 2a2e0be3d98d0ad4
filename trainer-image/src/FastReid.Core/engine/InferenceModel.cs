using FastReid.Config;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Builds a model for embedding, evaluation or export from a config and the weights in <c>MODEL.WEIGHTS</c>. The
/// file must fill the model the config describes (<see cref="WeightLoading.Load"/> with <c>requireAll</c>): a
/// half-loaded model embeds and even exports "verified", but it is not the trained model. <c>allowPartial</c>
/// (the commands' <c>--allow-partial-weights</c>) loads what fits and reports the rest, for doing it on purpose.
/// </summary>
public static class InferenceModel
{
    /// <summary>The commands' option (without its dashes) that passes <c>allowPartial</c>.</summary>
    public const string AllowPartialOption = "allow-partial-weights";

    public static MetaArch Load(FastReidConfig cfg, Device device, Action<string> log, bool allowPartial = false)
    {
        ConfigPreflight.ForInference(cfg);
        var weights = cfg.String("MODEL.WEIGHTS");
        var state = WeightLoading.ReadStateDict(weights, "MODEL.WEIGHTS");
        int classes = cfg.Int("MODEL.HEADS.NUM_CLASSES");
        if (classes == 0)
        {
            // the classifier is not used for embeddings; size it from the file so every tensor loads
            classes = state.TryGetValue("heads.weight", out var w) ? (int)w.shape[0] : 1;
            cfg.SetValue("MODEL.HEADS.NUM_CLASSES", (long)classes);
        }
        cfg.SetValue("MODEL.BACKBONE.PRETRAIN", false);
        var model = MetaArchRegistry.BuildForInference(cfg, classes);
        try
        {
            var report = WeightLoading.Load(model, state, prefix: "", sourceName: weights, requireAll: !allowPartial);
            log(allowPartial ? $"--{AllowPartialOption}: {report}" : report);
        }
        catch (Exception e)
        {
            model.Dispose();
            if (e is WeightsMismatchException)
                throw new FastReidException($"MODEL.WEIGHTS {e.Message} To use them anyway (what does not fit keeps its initialisation), pass --{AllowPartialOption}", e);
            throw;
        }
        model.to(device);
        model.eval();
        return model;
    }
}
