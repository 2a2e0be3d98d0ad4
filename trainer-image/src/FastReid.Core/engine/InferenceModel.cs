using FastReid.Config;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>Builds a model for embedding or evaluation from a config and the weights in <c>MODEL.WEIGHTS</c>.</summary>
public static class InferenceModel
{
    public static MetaArch Load(FastReidConfig cfg, Device device, Action<string> log)
    {
        var weights = cfg.String("MODEL.WEIGHTS");
        if (weights.Length == 0)
            throw new FastReidException("MODEL.WEIGHTS is empty: give the trained weights (e.g. OUTPUT_DIR/model_final.pth) as MODEL.WEIGHTS PATH");
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
        log(WeightLoading.Load(model, state, prefix: "", sourceName: weights));
        model.to(device);
        model.eval();
        return model;
    }
}
