using FastReid.Config;
using FastReid.Solver;

namespace FastReid.Core.Tests.Solver;

public sealed class LrScheduleTests
{
    private static LrSchedule Schedule(params string[] overrides)
    {
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(overrides);
        return LrSchedule.FromConfig(cfg);
    }

    [Fact]
    public void Linear_warmup_rises_from_the_factor_to_one()
    {
        var s = Schedule("SOLVER.WARMUP_ITERS", "10", "SOLVER.WARMUP_FACTOR", "0.1");
        Assert.Equal(0.1, s.Warmup(0), 12);
        Assert.Equal(0.1 * 0.5 + 0.5, s.Warmup(5), 12);
        Assert.Equal(1.0, s.Warmup(10), 12);
    }

    [Fact]
    public void Multistep_divides_at_each_milestone()
    {
        var s = Schedule("SOLVER.STEPS", "[3, 6]", "SOLVER.GAMMA", "0.1", "SOLVER.WARMUP_ITERS", "0");
        Assert.Equal(1.0, s.Factor(100, 2), 12);
        Assert.Equal(0.1, s.Factor(100, 3), 12);
        Assert.Equal(0.01, s.Factor(100, 6), 12);
    }

    [Fact]
    public void Cosine_waits_for_the_delay_then_anneals_to_eta_min()
    {
        var s = Schedule("SOLVER.SCHED", "CosineAnnealingLR", "SOLVER.DELAY_EPOCHS", "2", "SOLVER.MAX_EPOCH", "10",
            "SOLVER.BASE_LR", "0.001", "SOLVER.ETA_MIN_LR", "0.00001", "SOLVER.WARMUP_ITERS", "0");
        Assert.Equal(1.0, s.Main(0), 12);
        Assert.Equal(1.0, s.Main(2), 12);
        Assert.Equal((0.01 + 1) / 2, s.Main(6), 9);
        Assert.Equal(0.01, s.Main(10), 9);
    }
}
