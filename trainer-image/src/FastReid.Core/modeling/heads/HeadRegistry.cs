using FastReid.Config;

namespace FastReid.Modeling.Heads;

/// <summary>
/// FastReID's <c>REID_HEADS_REGISTRY</c>: <c>MODEL.HEADS.NAME</c> names the head, built from the config, the
/// backbone's channels and the number of identities.
/// </summary>
public static class HeadRegistry
{
    public static Registry<Func<FastReidConfig, long, int, EmbeddingHead>> Registry { get; } = new("MODEL.HEADS.NAME",
        [("EmbeddingHead", EmbeddingHead.FromConfig)],
        new Dictionary<string, string> { ["ClasHead"] = "ClasHead is not supported yet" });

    public static EmbeddingHead Build(FastReidConfig cfg, long featDim, int numClasses) =>
        Registry.Get(cfg.String("MODEL.HEADS.NAME"))(cfg, featDim, numClasses);
}
