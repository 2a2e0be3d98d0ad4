using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

/// <summary>DEHB's mechanics: subpopulations per budget, rand/1 mutation, binomial crossover, selection, brackets.</summary>
public sealed class DehbTests
{
    private static DehbSearch Dehb(AlgorithmSettings? settings = null, int parallelism = 9, int seed = 7) =>
        (DehbSearch)Create(Spec("dehb", settings ?? new() { MinBudget = 1, MaxBudget = 9, Eta = 3 }, parallelism: parallelism, seed: seed));

    private static List<TrialView> Finish(IReadOnlyList<TrialView> trials) => FinishAll(trials, t => HyperbandTests.Quadratic(t.Params) + 1.0 / t.Budget);

    [Fact]
    public void Each_budget_has_a_subpopulation_as_large_as_its_largest_rung()
    {
        var dehb = Dehb(new() { MinBudget = 1, MaxBudget = 27, Eta = 3 });
        // Rungs at 1: 27; at 3: 9 and 12; at 9: 3, 4 and 6; at 27: 1, 1, 2 and 4.
        Assert.Equal([27, 12, 6, 4], Enumerable.Range(0, 4).Select(dehb.PopulationSize));
    }

    [Fact]
    public void The_first_bracket_is_hyperbands_uniform_draws_and_promotes_the_same_trials_to_resume()
    {
        var dehb = Dehb();
        var hyperband = new HyperbandSearch(Space(Spec("dehb")), 7, dehb.Schedule);
        var first = dehb.Next([], new SearchContext(9, 100));
        Assert.Equal(hyperband.Next([], new SearchContext(9, 100)).Start, first.Start);
        var done = Finish(Apply([], first));
        var promote = dehb.Next(done, new SearchContext(3, 91)).Promote;
        Assert.Equal(hyperband.Next(done, new SearchContext(3, 91)).Promote, promote);
        Assert.Equal(3, promote.Count);
        Assert.All(promote, p => Assert.Equal(3.0, p.Budget));
    }

    [Fact]
    public void Later_brackets_of_the_first_iteration_evolve_their_first_rung_then_promote()
    {
        var dehb = Dehb();
        var trials = Finish(Apply([], dehb.Next([], new SearchContext(9, 100))));
        var step = dehb.Next(trials, new SearchContext(8, 91));
        // 3 promotions in bracket 0, then bracket 1 opens: 5 new trials at budget 3, evolved from the population at 1.
        Assert.Equal(3, step.Promote.Count);
        Assert.Equal(Enumerable.Repeat((1, 3.0), 5), step.Start.Select(s => (s.Bracket, s.Budget)));
        var uniform = new HyperbandSearch(Space(Spec("dehb")), 7, dehb.Schedule).Next(trials, new SearchContext(8, 91)).Start;
        Assert.Equal(5, step.Start.Select(s => s.Params).Except(uniform.Select(s => s.Params)).Count());

        trials = Finish(Apply(trials, step));
        var bracket1 = trials.Where(t => t.Bracket == 1).OrderBy(t => t.Loss).ToList();
        var next = dehb.Next(trials, new SearchContext(2, 86)); // bracket 0's best to 9, then bracket 1's
        Assert.Contains(new Promotion(bracket1[0].Id, 9), next.Promote);
    }

    [Fact]
    public void Later_iterations_evolve_every_rung_with_new_trials_from_the_rung_below()
    {
        var dehb = Dehb(parallelism: 1);
        var trials = new List<TrialView>();
        for (int i = 0; i < 40; i++) trials = Finish(Apply(trials, dehb.Next(trials, new SearchContext(1, 200 - trials.Count))));
        // Iteration 1 starts at bracket 3 (sMax = 2): its second rung is 3 new trials at budget 3, not promotions.
        var bracket3 = trials.Where(t => t.Bracket == 3).ToList();
        Assert.Equal(9, bracket3.Count(t => t.Results[0].Budget == 1));
        Assert.Equal(3, bracket3.Count(t => t.Results[0].Budget == 3));
        Assert.Equal(1, bracket3.Count(t => t.Results[0].Budget == 9));
        Assert.All(bracket3, t => Assert.Single(t.Results)); // nothing resumed
        // The rung at 3 was evolved from the best three at 1: each new point mixes those with its target.
        Assert.DoesNotContain(bracket3, t => t.Results[0].Budget == 3 && trials.Any(o => o.Id != t.Id && o.Params.Equals(t.Params)));
    }

    [Fact]
    public void Rand_1_mutation_with_full_crossover_is_a_plus_F_times_b_minus_c_of_three_pool_members()
    {
        var dehb = Dehb(new() { MinBudget = 1, MaxBudget = 9, Eta = 3, MutationFactor = 0.5, CrossoverProb = 1 });
        double[][] pool = [[0.2, 0.4], [0.6, 0.5], [0.4, 0.3]];
        var populations = dehb.Populations([]);
        var expected = new List<double[]>();
        foreach (var a in pool) foreach (var b in pool) foreach (var c in pool)
            if (a != b && b != c && a != c) expected.Add([a[0] + 0.5 * (b[0] - c[0]), a[1] + 0.5 * (b[1] - c[1])]);
        for (int id = 0; id < 20; id++)
        {
            var x = dehb.Offspring([0.9, 0.9], pool, populations, id);
            Assert.Contains(expected, e => Math.Abs(e[0] - x[0]) < 1e-12 && Math.Abs(e[1] - x[1]) < 1e-12);
        }
    }

    [Fact]
    public void Crossover_keeps_the_target_elsewhere_takes_one_mutant_coordinate_always_and_stays_in_the_cube()
    {
        var none = Dehb(new() { MinBudget = 1, MaxBudget = 9, Eta = 3, MutationFactor = 2, CrossoverProb = 0 });
        double[][] pool = [[0.0, 0.0], [0.99, 0.99], [0.01, 0.5]];
        var populations = none.Populations([]);
        double[] target = [0.123, 0.456];
        for (int id = 0; id < 50; id++)
        {
            var x = none.Offspring(target, pool, populations, id);
            Assert.Equal(1, x.Select((v, j) => v != target[j]).Count(changed => changed)); // CR 0: exactly the one forced coordinate
            Assert.All(x, v => Assert.InRange(v, 0, Math.BitDecrement(1.0))); // F 2 throws mutants out of the cube: redrawn
        }
    }

    [Fact]
    public void A_pool_of_fewer_than_three_is_filled_so_a_mutant_always_exists()
    {
        var dehb = Dehb();
        var x = dehb.Offspring([0.5, 0.5], [[0.1, 0.1]], dehb.Populations([]), 3);
        Assert.All(x, v => Assert.InRange(v, 0, 1));
    }

    [Fact]
    public void Selection_keeps_a_trial_only_when_it_is_no_worse_than_its_target()
    {
        var dehb = Dehb();
        var trials = Apply([], dehb.Next([], new SearchContext(9, 100)));
        // Bracket 0's trials set the subpopulation at budget 1 (its members were never evaluated).
        trials = FinishAll(trials, t => t.Id);
        var population = dehb.Populations(trials)[0];
        Assert.Equal(Enumerable.Range(0, 9), population.Select(m => m.TrialId));
        // Bracket 3 (iteration 1) evolves the budget-1 subpopulation again: trial at position p targets member p.
        var better = new TrialView(trials.Count, Params(1e-4, 0.3), 3, 1, TrialState.Succeeded, [new RungResult(1, -1)], []);
        var worse = new TrialView(trials.Count + 1, Params(1e-4, 0.4), 3, 1, TrialState.Succeeded, [new RungResult(1, 99)], []);
        var failed = new TrialView(trials.Count + 2, Params(1e-4, 0.5), 3, 1, TrialState.Failed, [], []);
        var after = dehb.Populations([.. trials, better, worse, failed])[0];
        Assert.Equal(better.Id, after[0].TrialId);
        Assert.Equal(-1, after[0].Loss);
        Assert.Equal(1, after[1].TrialId);
        Assert.Equal(2, after[2].TrialId);
    }

    [Fact]
    public void A_whole_sweep_beats_random_search_at_equal_budget()
    {
        double Regret(string name, int seed)
        {
            var settings = name == "dehb" ? new AlgorithmSettings { MinBudget = 1, MaxBudget = 9, Eta = 3 } : null;
            var spec = Spec(name, settings, parallelism: 1, maxTrials: 10000, seed: seed);
            var run = SimulatedSweep.Run(spec, Create(spec), (p, b, id) => HyperbandTests.Quadratic(p) + (1 - b / 9) * Seeds.For(seed, id, (int)b).NextDouble(),
                templateBudget: 9, budgetCap: 9 * 30);
            return HyperbandTests.Quadratic(run.Best.Params);
        }
        var seeds = Enumerable.Range(1, 9).ToList();
        double dehb = Median(seeds.Select(s => Regret("dehb", s))), random = Median(seeds.Select(s => Regret("random", s)));
        Assert.True(dehb < random / 2, $"dehb median {dehb}, random median {random}");
    }

    [Fact]
    public void Its_settings_are_typed_named_and_ranged()
    {
        var error = Assert.Single(Errors(Spec("dehb", new() { MutationFactor = 3 })));
        Assert.Equal(("spec.algorithm.settings.mutationFactor", "must be in (0, 2], got 3"), (error.Path, error.Message));
        error = Assert.Single(Errors(Spec("dehb", new() { RandomFraction = 0.2 })));
        Assert.Equal("spec.algorithm.settings.randomFraction", error.Path);
        Assert.StartsWith("randomFraction is a setting of bohb, not of dehb; its settings are eta, minBudget, maxBudget, mutationFactor, crossoverProb", error.Message);
        Assert.Single(Errors(Spec("bohb", new() { CrossoverProb = 0.3 })), e => e.Path == "spec.algorithm.settings.crossoverProb");
    }

    private static double Median(IEnumerable<double> values) { var v = values.Order().ToList(); return v[v.Count / 2]; }
}
