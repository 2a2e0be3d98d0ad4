using FastReid.Config;

namespace FastReid.Modeling.MetaArch;

/// <summary>
/// FastReID's <c>META_ARCH_REGISTRY</c> and <c>build_model</c>: <c>MODEL.META_ARCHITECTURE</c> names the
/// meta-architecture, built from the config and the number of training identities.
/// </summary>
public static class MetaArchRegistry
{
    public static Registry<Func<FastReidConfig, int, Action<string>, MetaArch>> Registry { get; } = new("MODEL.META_ARCHITECTURE",
        [
            ("Baseline", (cfg, numClasses, _) => new Baseline(cfg, numClasses)),
            ("Distiller", (cfg, numClasses, log) => new Distiller(cfg, numClasses, log)),
            ("DistillerOverhaul", (cfg, numClasses, log) => new DistillerOverhaul(cfg, numClasses, log)),
        ],
        new Dictionary<string, string>
        {
            ["MGN"] = "MGN is not supported yet",
            ["MoCo"] = "MoCo is not supported yet",
        });

    /// <param name="log">where building reports what it loaded (a Distiller's teachers)</param>
    public static MetaArch Build(FastReidConfig cfg, int numClasses, Action<string>? log = null) =>
        Registry.Get(cfg.String("MODEL.META_ARCHITECTURE"))(cfg, numClasses, log ?? (_ => { }));

    /// <summary>
    /// The model that embeds, evaluates and exports what a config trained: a Distiller's student is a Baseline
    /// (its teachers are not needed, and its connectors are not on the embedding path).
    /// </summary>
    public static MetaArch BuildForInference(FastReidConfig cfg, int numClasses)
    {
        var name = cfg.String("MODEL.META_ARCHITECTURE");
        Registry.Get(name);
        if (name is "Distiller" or "DistillerOverhaul")
        {
            cfg = cfg.Clone();
            cfg.SetValue("MODEL.META_ARCHITECTURE", "Baseline");
        }
        return Build(cfg, numClasses);
    }
}
