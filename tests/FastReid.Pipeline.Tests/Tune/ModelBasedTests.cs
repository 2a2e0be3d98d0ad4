using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

/// <summary>The kernel densities of TPE and BOHB, and how they steer the suggestions.</summary>
public sealed class ModelBasedTests
{
    private static readonly Dictionary<string, SearchParameter> OneD = new() { ["SOLVER.MOMENTUM"] = new() { Type = "uniform", Min = 0, Max = 1 } };

    private static TrialParams Momentum(double m) => new([KeyValuePair.Create<string, JsonNode?>("SOLVER.MOMENTUM", m)]);

    private static double Integral(Func<double, double> f, int n = 20000) => Enumerable.Range(0, n).Sum(i => f((i + 0.5) / n)) / n;

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(0.3)]
    public void A_truncated_kernel_integrates_to_one_on_the_cube_even_at_its_edges(double priorWeight)
    {
        var space = Space(Spec("tpe", space: OneD, budget: false));
        var kde = new ParzenEstimator(space.Dimensions, [[0.0], [0.97], [0.5]], [0.2], priorWeight);
        Assert.Equal(1.0, Integral(x => kde.Density([x])), 3);
    }

    [Fact]
    public void A_categorical_kernel_is_a_probability_over_the_choices_and_prefers_the_observed_one()
    {
        var space = Space(Spec("tpe", space: new() { ["SOLVER.OPT"] = new() { Type = "choice", Values = [JsonValue.Create("SGD"), JsonValue.Create("Adam"), JsonValue.Create("AdamW")] } }, budget: false));
        var kde = new ParzenEstimator(space.Dimensions, [[0.5]], [0.3], priorWeight: 0); // Adam observed
        double[] mass = [.. new[] { 1 / 6.0, 0.5, 5 / 6.0 }.Select(u => kde.Density([u]))];
        Assert.Equal(1.0, mass.Sum(), 9);
        Assert.Equal(0.7, mass[1], 9);
        var random = new Random(1);
        int adam = Enumerable.Range(0, 4000).Count(_ => kde.Sample(random)[0] is > 1 / 3.0 and < 2 / 3.0);
        Assert.InRange(adam / 4000.0, 0.66, 0.74);
    }

    [Fact]
    public void Tpe_good_density_sits_where_the_losses_are_low_and_its_suggestions_go_there()
    {
        var spec = Spec("tpe", new() { StartupTrials = 20, Gamma = 0.25 }, OneD, budget: false); // five good points
        var tpe = (TreeParzenSearch)Create(spec);
        // 20 evenly spread trials on a 1-d toy whose best region is around 0.8.
        var trials = Enumerable.Range(0, 20).Select(i => Done(i, 0, Math.Abs((i + 0.5) / 20 - 0.8), p: Momentum((i + 0.5) / 20))).ToList();
        var (good, bad) = tpe.Fit(trials)!.Value;
        Assert.True(good.Density([0.8]) > 2 * bad.Density([0.8]));
        Assert.True(good.Density([0.1]) < bad.Density([0.1]));
        var step = tpe.Next(trials, new SearchContext(8, 80));
        Assert.All(step.Start, s => Assert.InRange(s.Params["SOLVER.MOMENTUM"]!.GetValue<double>(), 0.6, 1.0));
    }

    [Fact]
    public void Tpe_draws_at_random_for_its_startup_trials()
    {
        var spec = Spec("tpe", new() { StartupTrials = 5 }, OneD, budget: false);
        var random = new RandomSearch(Space(spec), spec.Algorithm.Seed);
        var trials = Enumerable.Range(0, 3).Select(i => Done(i, 0, i, p: Momentum(0.1 * i))).ToList();
        Assert.Equal(random.Next(trials, new SearchContext(2, 10)).Start.Select(s => s.Params), Create(spec).Next(trials, new SearchContext(2, 10)).Start.Select(s => s.Params));
    }

    [Fact]
    public void Bohb_models_the_largest_budget_with_enough_results()
    {
        var spec = Spec("bohb", new() { MinBudget = 1, MaxBudget = 9, MinPointsInModel = 2 }, OneD);
        var bohb = (BohbSearch)Create(spec);
        var trials = Enumerable.Range(0, 9).Select(i => Done(i, 1, i, p: Momentum(i / 10.0))).ToList();
        Assert.Equal(1.0, bohb.Fit(trials)!.Value.Budget);
        trials = [.. trials.Take(6), .. trials.Skip(6).Select(t => Done(t.Id, 3, 0.1 * t.Id, p: t.Params, earlier: t.Results[0]))];
        Assert.Equal(1.0, bohb.Fit(trials)!.Value.Budget); // 3 results at budget 3: fewer than minPointsInModel + 2
        trials.Add(Done(9, 3, 0.05, p: Momentum(0.95)));
        var model = bohb.Fit(trials)!.Value;
        Assert.Equal(3.0, model.Budget);
        // good: trials 9 (0.95) and 6 (0.6); bad: the next two, 7 and 8 (0.7, 0.8), never a good one again.
        Assert.True(model.Good.Density([0.95]) > 2 * model.Bad.Density([0.95]));
        Assert.True(model.Good.Density([0.75]) < model.Bad.Density([0.75]));
    }

    [Fact]
    public void Bohb_without_a_model_or_in_its_random_fraction_draws_uniformly()
    {
        var spec = Spec("bohb", new() { RandomFraction = 1 }, OneD);
        var trials = Enumerable.Range(0, 9).Select(i => Done(i, 1, i, p: Momentum(i / 10.0))).ToList();
        var hyperband = new HyperbandSearch(Space(spec), spec.Algorithm.Seed, new HyperbandSchedule(1, 9, 3, true));
        Assert.Equal(hyperband.Next(trials, new SearchContext(3, 10)).Start.Select(s => s.Params), Create(spec).Next(trials, new SearchContext(3, 10)).Start.Select(s => s.Params));
    }

    [Fact]
    public void Tpe_beats_random_search_on_a_smooth_objective_in_a_whole_sweep()
    {
        double Regret(string name, int seed)
        {
            var spec = Spec(name, null, parallelism: 1, maxTrials: 40, budget: false, seed: seed);
            var progress = SimulatedSweep.Run(spec, Create(spec), (p, _, _) => HyperbandTests.Quadratic(p), templateBudget: 1, budgetCap: 1e9);
            return HyperbandTests.Quadratic(progress.Best.Params);
        }
        var seeds = Enumerable.Range(1, 9).ToList();
        double tpe = Median(seeds.Select(s => Regret("tpe", s))), random = Median(seeds.Select(s => Regret("random", s)));
        Assert.True(tpe < random / 2, $"tpe median {tpe}, random median {random}");
    }

    private static double Median(IEnumerable<double> values) { var v = values.Order().ToList(); return v[v.Count / 2]; }
}
