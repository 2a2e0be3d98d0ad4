using FastReid.Config;

namespace FastReid.Modeling.MetaArch;

/// <summary>
/// FastReID's <c>META_ARCH_REGISTRY</c> and <c>build_model</c>: <c>MODEL.META_ARCHITECTURE</c> names the
/// meta-architecture, built from the config and the number of training identities.
/// </summary>
public static class MetaArchRegistry
{
    public static Registry<Func<FastReidConfig, int, MetaArch>> Registry { get; } = new("MODEL.META_ARCHITECTURE",
        [("Baseline", (cfg, numClasses) => new Baseline(cfg, numClasses))],
        new Dictionary<string, string>
        {
            ["Distiller"] = "Distiller is not supported yet",
            ["DistillerOverhaul"] = "DistillerOverhaul is not supported yet",
            ["MGN"] = "MGN is not supported yet",
            ["MoCo"] = "MoCo is not supported yet",
        });

    public static MetaArch Build(FastReidConfig cfg, int numClasses) => Registry.Get(cfg.String("MODEL.META_ARCHITECTURE"))(cfg, numClasses);
}
