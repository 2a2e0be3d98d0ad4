using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

public sealed class MedianStoppingTests
{
    private static TrialView WithReadings(TrialView t, params double[] losses) =>
        t with { Readings = [.. losses.Select((l, i) => new Reading(i + 1, l))] };

    private static ISearchAlgorithm Median(double grace = 2, int minTrials = 3) =>
        Create(Spec("median", new() { MedianStopping = new() { GracePeriod = grace, MinTrials = minTrials } }, budget: false));

    [Fact]
    public void A_trial_worse_than_the_median_of_the_others_running_averages_is_stopped()
    {
        var others = new[]
        {
            WithReadings(Done(0, 5, 0.3), 0.9, 0.5, 0.4, 0.3, 0.3),
            WithReadings(Done(1, 5, 0.4), 0.8, 0.6, 0.5, 0.4, 0.4),
            WithReadings(Done(2, 5, 0.2), 0.7, 0.3, 0.2, 0.2, 0.2),
        };
        // Averages at step 3: 0.6, 0.633, 0.4 -> median 0.6. Trial 3's best up to step 3 is 0.65: stopped.
        var slow = WithReadings(Running(3, 5), 0.9, 0.7, 0.65);
        var fine = WithReadings(Running(4, 5), 0.9, 0.7, 0.55);
        var step = Median().Next([.. others, slow, fine], new SearchContext(0, 10));
        Assert.Equal([3], step.Stop);
    }

    [Fact]
    public void Nothing_stops_within_the_grace_period_or_without_enough_other_trials()
    {
        var others = new[] { WithReadings(Done(0, 5, 0.1), 0.1, 0.1, 0.1), WithReadings(Done(1, 5, 0.1), 0.1, 0.1, 0.1), WithReadings(Done(2, 5, 0.1), 0.1, 0.1, 0.1) };
        var bad = WithReadings(Running(3, 5), 0.9);
        Assert.Empty(Median(grace: 2).Next([.. others, bad], new SearchContext(0, 10)).Stop);  // step 1 < grace period 2
        var later = WithReadings(Running(3, 5), 0.9, 0.9);
        Assert.Equal([3], Median(grace: 2).Next([.. others, later], new SearchContext(0, 10)).Stop);
        Assert.Empty(Median(grace: 2, minTrials: 4).Next([.. others, later], new SearchContext(0, 10)).Stop);
    }

    [Fact]
    public void Trials_that_have_not_reached_the_step_do_not_count()
    {
        var early = new[] { WithReadings(Running(0, 5), 0.1), WithReadings(Running(1, 5), 0.1), WithReadings(Running(2, 5), 0.1) };
        var bad = WithReadings(Running(3, 5), 0.9, 0.9, 0.9);
        Assert.Empty(Median(grace: 1).Next([.. early, bad], new SearchContext(0, 10)).Stop);
    }

    [Fact]
    public void It_wraps_any_algorithm_and_keeps_its_suggestions()
    {
        var spec = Spec("asha", new() { MedianStopping = new() { GracePeriod = 1, MinTrials = 2 } }, parallelism: 2);
        var wrapped = Create(spec);
        Assert.Equal("asha", wrapped.Name);
        Assert.True(wrapped.UsesBudget);
        var trials = new List<TrialView> { Done(0, 1, 0.1), Done(1, 1, 0.2), Running(2, 1, results: []) with { Readings = [new Reading(1, 0.9)] } };
        var step = wrapped.Next(trials, new SearchContext(1, 10));
        Assert.Equal([2], step.Stop);
        Assert.Single(step.Start);
    }

    [Fact]
    public void A_median_sweep_stops_bad_trials_early_and_spends_less_than_random_search()
    {
        double Spent(string name)
        {
            var spec = Spec(name, null, parallelism: 1, maxTrials: 30, budget: false);
            // Learning curves: the final loss approached from above, 1/step away.
            var progress = SimulatedSweep.Run(spec, Create(spec), (p, step, _) => HyperbandTests.Quadratic(p) + 1.0 / step, templateBudget: 10, budgetCap: 1e9, readingEvery: 1);
            return progress.Spent;
        }
        Assert.True(Spent("median") < 0.8 * Spent("random"), $"median {Spent("median")}, random {Spent("random")}");
    }
}
