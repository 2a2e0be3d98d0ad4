using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

public sealed class AshaTests
{
    private static AshaSearch Asha(double min = 1, double max = 9) =>
        (AshaSearch)Create(Spec("asha", new() { MinBudget = min, MaxBudget = max }, parallelism: 4));

    [Fact]
    public void Rungs_go_up_from_the_grace_period_to_the_maximum()
    {
        Assert.Equal([1.0, 3, 9], Asha().Rungs);
        Assert.Equal([2.0, 6, 7], Asha(2, 7).Rungs); // FastTune's ASHA: grace 2, reduction 3, max 7
    }

    [Fact]
    public void New_trials_start_at_the_grace_period_while_no_rung_has_a_top_third()
    {
        var asha = Asha();
        var trials = new List<TrialView> { Done(0, 1, 0.5), Done(1, 1, 0.2) };
        var step = asha.Next(trials, new SearchContext(2, 10));
        Assert.Empty(step.Promote);
        Assert.Equal([1.0, 1.0], step.Start.Select(s => s.Budget));
    }

    [Fact]
    public void A_trial_in_the_top_third_of_its_rung_is_promoted_without_waiting_for_running_ones()
    {
        var asha = Asha();
        var trials = new List<TrialView> { Done(0, 1, 0.5), Done(1, 1, 0.2), Done(2, 1, 0.9), Running(3, 1) };
        var step = asha.Next(trials, new SearchContext(2, 10));
        Assert.Equal([(1, 3.0)], step.Promote.Select(p => (p.TrialId, p.Budget)));
        Assert.Single(step.Start); // the other slot starts a new trial
    }

    [Fact]
    public void Higher_rungs_are_served_first_and_a_promoted_trial_is_not_promoted_twice()
    {
        var asha = Asha();
        var trials = new List<TrialView>
        {
            Done(0, 3, 0.1, earlier: new RungResult(1, 0.3)), Done(1, 3, 0.4, earlier: new RungResult(1, 0.4)), Done(2, 3, 0.6, earlier: new RungResult(1, 0.1)),
            Done(3, 1, 0.5), Done(4, 1, 0.6), Done(5, 1, 0.7), Done(6, 1, 0.8), Done(7, 1, 0.9), Done(8, 1, 0.95),
        };
        var step = asha.Next(trials, new SearchContext(4, 10));
        // rung 3: 3 ended, top 1 = trial 0 -> 9. rung 1: 9 ended, top 3 = 2, 0, 1, all promoted already.
        Assert.Equal([(0, 9.0)], step.Promote.Select(p => (p.TrialId, p.Budget)));
        Assert.Equal(3, step.Start.Count);
    }

    [Fact]
    public void Failed_trials_count_in_their_rung_as_the_worst()
    {
        var asha = Asha();
        var trials = new List<TrialView> { Done(0, 1, 0.5), Failed(1, 1), Failed(2, 1) };
        Assert.Equal([0], asha.Next(trials, new SearchContext(1, 10)).Promote.Select(p => p.TrialId));
    }

    [Fact]
    public void After_max_trials_it_keeps_promoting_then_the_sweep_completes()
    {
        var spec = Spec("asha", new() { MinBudget = 1, MaxBudget = 9 }, parallelism: 2, maxTrials: 9);
        var progress = SimulatedSweep.Run(spec, Create(spec), (p, b, _) => HyperbandTests.Quadratic(p) + 1.0 / b, templateBudget: 9, budgetCap: 1e9);
        Assert.Equal(9.0, progress.Best.Budget);
    }
}
