using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

public sealed class DeterminismTests
{
    public static TheoryData<string> Algorithms => ["random", "grid", "tpe", "hyperband", "bohb", "asha", "dehb", "median"];

    private static SimulatedRun Sweep(string name, int seed, int parallelism = 3) =>
        SimulatedSweep.Run(Spec(name, parallelism: parallelism, maxTrials: 40, seed: seed), Create(Spec(name, parallelism: parallelism, maxTrials: 40, seed: seed)),
            (p, b, id) => HyperbandTests.Quadratic(p) + 1.0 / b + 0.01 * Seeds.For(5, id, (int)b).NextDouble(), templateBudget: 9, budgetCap: 1e9, readingEvery: 1);

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void The_same_seed_and_results_give_the_same_sweep(string name)
    {
        var a = Sweep(name, 3);
        var b = Sweep(name, 3);
        Assert.Equal(a.Progress.Select(p => (p.Spent, p.Best.Id, p.Best.Params.ToString())), b.Progress.Select(p => (p.Spent, p.Best.Id, p.Best.Params.ToString())));
        Assert.Equal(a.Spent, b.Spent);
    }

    [Theory]
    [InlineData("random")]
    [InlineData("tpe")]
    [InlineData("bohb")]
    public void Another_seed_gives_another_sweep(string name) =>
        Assert.NotEqual(Sweep(name, 3).Best.Params, Sweep(name, 4).Best.Params);

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void A_step_depends_only_on_its_inputs(string name)
    {
        var algorithm = Create(Spec(name, parallelism: 4));
        var trials = new List<TrialView> { Done(0, 1, 0.5), Done(1, 1, 0.2), Running(2, 1) };
        var first = algorithm.Next(trials, new SearchContext(3, 10));
        var again = Create(Spec(name, parallelism: 4)).Next(trials, new SearchContext(3, 10));
        Assert.Equal(first.Start.Select(s => (s.Params, s.Budget, s.Bracket)), again.Start.Select(s => (s.Params, s.Budget, s.Bracket)));
        Assert.Equal(first.Promote, again.Promote);
    }

    [Theory]
    [InlineData("random")]
    [InlineData("hyperband")]
    [InlineData("asha")]
    [InlineData("grid")]
    public void The_nth_suggestion_of_a_model_free_algorithm_does_not_depend_on_the_results_so_far(string name)
    {
        var algorithm = Create(Spec(name, parallelism: 4));
        var good = new List<TrialView> { Done(0, 1, 0.1, p: Params(1e-3, 0.1)), Done(1, 1, 0.2, p: Params(1e-4, 0.9)) };
        var other = new List<TrialView> { Done(0, 1, 9.0, p: Params(1e-3, 0.1)), Failed(1, 1) };
        Assert.Equal(algorithm.Next(good, new SearchContext(1, 10)).Start.Select(s => s.Params), algorithm.Next(other, new SearchContext(1, 10)).Start.Select(s => s.Params));
    }

    [Fact]
    public void Tpe_suggestions_for_several_slots_are_distinct_and_independent_of_the_slot_count()
    {
        var tpe = Create(Spec("tpe", new() { StartupTrials = 2 }, budget: false));
        var trials = Enumerable.Range(0, 6).Select(i => Done(i, 0, i, p: Params(Math.Pow(10, -5 + i * 0.5), i / 6.0))).ToList();
        var four = tpe.Next(trials, new SearchContext(4, 10)).Start;
        var one = tpe.Next(trials, new SearchContext(1, 10)).Start;
        Assert.Equal(4, four.Select(s => s.Params).Distinct().Count());
        Assert.Equal(one[0].Params, four[0].Params);
    }
}
