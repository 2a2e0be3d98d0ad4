using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

public sealed class GridSearchTests
{
    private static readonly Dictionary<string, SearchParameter> Mixed = new()
    {
        ["SOLVER.OPT"] = new() { Type = "choice", Values = [JsonValue.Create("SGD"), JsonValue.Create("Adam")] },
        ["DATALOADER.NUM_INSTANCE"] = new() { Type = "randint", Min = 2, Max = 4 },
        ["SOLVER.BASE_LR"] = new() { Type = "loguniform", Min = 1e-4, Max = 1e-2 },
    };

    [Fact]
    public void Every_combination_is_tried_once_in_a_fixed_order_and_then_the_grid_is_exhausted()
    {
        var spec = Spec("grid", new() { GridPoints = 3 }, Mixed, parallelism: 4, budget: false);
        var grid = Create(spec);
        var trials = new List<TrialView>();
        SearchStep step;
        do
        {
            step = grid.Next(trials, new SearchContext(4, 100 - trials.Count));
            trials = FinishAll(Apply(trials, step), _ => 0);
        } while (!step.Exhausted);
        Assert.Equal(2 * 3 * 3, trials.Count);
        Assert.Equal(trials.Count, trials.Select(t => t.Params).Distinct().Count());
        Assert.Equal([1e-4, 1e-3, 1e-2], trials.Select(t => t.Params["SOLVER.BASE_LR"]!.GetValue<double>()).Distinct().Order());
        Assert.Equal([2L, 3, 4], trials.Select(t => t.Params["DATALOADER.NUM_INSTANCE"]!.GetValue<long>()).Distinct().Order());
        Assert.Equal(["Adam", "SGD"], trials.Select(t => t.Params["SOLVER.OPT"]!.GetValue<string>()).Distinct().Order());
        // The last dimension in key order varies fastest: SOLVER.OPT.
        Assert.Equal(["SGD", "Adam"], trials.Take(2).Select(t => t.Params["SOLVER.OPT"]!.GetValue<string>()));
        Assert.Empty(grid.Next(trials, new SearchContext(4, 100)).Start);
    }

    [Fact]
    public void A_sweep_over_a_grid_completes_when_the_grid_is_covered()
    {
        var spec = Spec("grid", null, Mixed, parallelism: 2, budget: false);
        var grid = Create(spec);
        var trials = new List<TrialView>();
        SweepDecision decision;
        while ((decision = SweepSearch.Decide(spec, grid, trials)).Outcome is null)
            trials = FinishAll(Apply(trials, new SearchStep([.. decision.Start.Select(s => s.Suggestion)], decision.Promote, [], false)), t => t.Id);
        Assert.Equal("Completed", decision.Outcome.Reason);
        Assert.Equal(18, trials.Count);
    }
}

