using FastReid.Config;

namespace FastReid.Solver;

/// <summary>
/// FastReID's learning-rate schedule as a pure function of (iteration, epoch): per-iteration warmup
/// (<c>SOLVER.WARMUP_*</c>) times a per-epoch main schedule (MultiStepLR, or CosineAnnealingLR after
/// <c>SOLVER.DELAY_EPOCHS</c> constant epochs). Being pure, a resumed run gets exactly the same rates.
/// </summary>
public sealed record LrSchedule(
    string Sched, int[] Steps, double Gamma, int MaxEpoch, int DelayEpochs, double EtaMin, double BaseLr,
    string WarmupMethod, double WarmupFactor, int WarmupIters)
{
    public static LrSchedule FromConfig(FastReidConfig cfg) => new(
        cfg.String("SOLVER.SCHED"), cfg.Ints("SOLVER.STEPS"), cfg.Float("SOLVER.GAMMA"), cfg.Int("SOLVER.MAX_EPOCH"),
        cfg.Int("SOLVER.DELAY_EPOCHS"), cfg.Float("SOLVER.ETA_MIN_LR"), cfg.Float("SOLVER.BASE_LR"),
        cfg.String("SOLVER.WARMUP_METHOD"), cfg.Float("SOLVER.WARMUP_FACTOR"), cfg.Int("SOLVER.WARMUP_ITERS"));

    /// <summary>The factor applied to every parameter group's base learning rate.</summary>
    public double Factor(long iteration, int epoch) => Warmup(iteration) * Main(epoch);

    public double Warmup(long iteration)
    {
        if (iteration >= WarmupIters || WarmupIters <= 0) return 1.0;
        double alpha = (double)iteration / WarmupIters;
        return WarmupMethod switch
        {
            "constant" => WarmupFactor,
            "linear" => WarmupFactor * (1 - alpha) + alpha,
            "exp" => Math.Pow(WarmupFactor, 1 - alpha),
            _ => throw new FastReidException($"SOLVER.WARMUP_METHOD: unknown method '{WarmupMethod}'"),
        };
    }

    public double Main(int epoch)
    {
        switch (Sched)
        {
            case "MultiStepLR":
                return Math.Pow(Gamma, Steps.Count(s => s <= epoch));
            case "CosineAnnealingLR":
                if (epoch < DelayEpochs) return 1.0;
                int span = Math.Max(1, MaxEpoch - DelayEpochs);
                double t = Math.Min(epoch - DelayEpochs, span);
                double etaRatio = BaseLr > 0 ? EtaMin / BaseLr : 0;
                return etaRatio + (1 - etaRatio) * (1 + Math.Cos(Math.PI * t / span)) / 2;
            default:
                throw new FastReidException($"SOLVER.SCHED: unknown schedule '{Sched}'");
        }
    }
}
