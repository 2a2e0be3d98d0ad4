using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

public sealed class HyperbandTests
{
    /// <summary>(trials, budget) of each rung of each bracket, as Li et al.'s table lists them.</summary>
    private static List<List<(int N, double Budget)>> Table(HyperbandSchedule s) =>
        [.. Enumerable.Range(0, s.SMax + 1).Select(b => Enumerable.Range(0, s.S(b) + 1)
            .Select(i => (s.RungSize(b, i), s.Ladder[s.FirstRung(b) + i])).ToList())];

    [Fact]
    public void Brackets_for_eta_3_from_1_to_9_are_those_of_the_paper()
    {
        var s = new HyperbandSchedule(1, 9, 3, integerBudgets: true);
        Assert.Equal(2, s.SMax);
        Assert.Equal([1.0, 3, 9], s.Ladder);
        Assert.Equal([[(9, 1.0), (3, 3), (1, 9)], [(5, 3.0), (1, 9)], [(3, 9.0)]], Table(s));
    }

    [Fact]
    public void Brackets_for_eta_3_from_1_to_27_are_those_of_the_paper()
    {
        var s = new HyperbandSchedule(1, 27, 3, integerBudgets: false);
        Assert.Equal([1.0, 3, 9, 27], s.Ladder);
        Assert.Equal([[(27, 1.0), (9, 3), (3, 9), (1, 27)], [(12, 3.0), (4, 9), (1, 27)], [(6, 9.0), (2, 27)], [(4, 27.0)]], Table(s));
        Assert.Equal(0, s.S(7)); // the brackets repeat
        Assert.Equal(3, s.S(4));
    }

    [Fact]
    public void Budgets_come_down_from_the_maximum_and_round_for_integer_keys()
    {
        Assert.Equal([2.33333333333, 7], new HyperbandSchedule(2, 7, 3, integerBudgets: false).Ladder); // 12 significant digits
        Assert.Equal([2.0, 7], new HyperbandSchedule(2, 7, 3, integerBudgets: true).Ladder);
    }

    [Fact]
    public void A_rung_is_promoted_only_once_every_trial_in_it_has_ended_and_then_its_top_third_by_loss()
    {
        var hb = (HyperbandSearch)Create(Spec("hyperband", parallelism: 9));
        var trials = Apply([], hb.Next([], new SearchContext(9, 100)));
        Assert.Equal(9, trials.Count);
        Assert.All(trials, t => Assert.Equal((0, 1.0), (t.Bracket, t.Budget)));

        double[] losses = [0.9, 0.1, 0.8, 0.7, 0.3, 0.6, 0.5, 0.2, 0.4];
        var eight = trials.Select(t => t.Id == 4 ? t : Done(t.Id, 1, losses[t.Id], p: t.Params)).ToList();
        var waiting = hb.Next(eight, new SearchContext(8, 91));
        Assert.Empty(waiting.Promote); // trial 4 still runs at budget 1
        // The free slots open the next brackets instead: 5 trials at budget 3, then 3 at budget 9.
        Assert.Equal([.. Enumerable.Repeat((1, 3.0), 5), .. Enumerable.Repeat((2, 9.0), 3)], waiting.Start.Select(s => (s.Bracket, s.Budget)));

        var all = eight.Select(t => t.Id == 4 ? Done(4, 1, losses[4], p: t.Params) : t).ToList();
        var step = hb.Next(all, new SearchContext(9, 91));
        Assert.Equal([(1, 3.0), (7, 3.0), (4, 3.0)], step.Promote.Select(p => (p.TrialId, p.Budget)));
    }

    [Fact]
    public void Failed_trials_rank_last_and_are_never_promoted()
    {
        var hb = Create(Spec("hyperband", parallelism: 9));
        var trials = Enumerable.Range(0, 9).Select(i => i < 7 ? Failed(i, 1) : Done(i, 1, 5.0 + i)).ToList();
        var step = hb.Next(trials, new SearchContext(9, 91));
        Assert.Equal([7, 8], step.Promote.Select(p => p.TrialId)); // 3 to promote, only 2 have results
    }

    [Fact]
    public void The_second_rung_promotes_its_best_to_the_maximum_budget()
    {
        var hb = Create(Spec("hyperband", parallelism: 9));
        var trials = Enumerable.Range(0, 9).Select(i => Done(i, 1, i)).ToList();
        trials[0] = Done(0, 3, 0.5, earlier: new RungResult(1, 0));
        trials[1] = Done(1, 3, 0.2, earlier: new RungResult(1, 1));
        trials[2] = Running(2, 3, results: new RungResult(1, 2));
        Assert.Empty(hb.Next(trials, new SearchContext(8, 91)).Promote);
        trials[2] = Done(2, 3, 0.9, earlier: new RungResult(1, 2));
        Assert.Equal([(1, 9.0)], hb.Next(trials, new SearchContext(9, 91)).Promote.Select(p => (p.TrialId, p.Budget)));
    }

    [Fact]
    public void A_bracket_cut_short_by_max_trials_still_promotes_its_best()
    {
        var hb = Create(Spec("hyperband", parallelism: 4, maxTrials: 4));
        var trials = Enumerable.Range(0, 4).Select(i => Done(i, 1, 4 - i)).ToList();
        var step = hb.Next(trials, new SearchContext(4, 0));
        Assert.Equal([3], step.Promote.Select(p => p.TrialId));
        Assert.Empty(step.Start);
    }

    [Fact]
    public void A_whole_sweep_runs_every_bracket_and_ends_at_max_trials_with_the_best_at_the_maximum_budget()
    {
        // 9 + 5 + 3 trials: one full round of brackets for eta 3, budgets 1..9.
        var spec = Spec("hyperband", parallelism: 3, maxTrials: 17);
        var progress = SimulatedSweep.Run(spec, Create(spec), (p, b, _) => Quadratic(p) + 1.0 / b, templateBudget: 9, budgetCap: 1e9);
        var best = progress.Best;
        Assert.Equal(9.0, best.Budget);
        // Bracket budgets: 9·1 + 3·3 + 1·9 (bracket 0) + 5·3 + 1·9 (bracket 1) + 3·9 (bracket 2), promotions counted at their final budget.
        Assert.Equal(9 + 6 + 6 + 15 + 6 + 27, progress.Spent, 6);
    }

    internal static double Quadratic(TrialParams p) =>
        Math.Pow(Math.Log10(p["SOLVER.BASE_LR"]!.GetValue<double>()) + 3, 2) + Math.Pow(p["SOLVER.MOMENTUM"]!.GetValue<double>() - 0.8, 2);
}
