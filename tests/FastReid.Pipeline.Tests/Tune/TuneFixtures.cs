using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;

namespace FastReid.Pipeline.Tests.Tune;

/// <summary>Sweep specs, spaces and trial views for the algorithm tests.</summary>
internal static class TuneFixtures
{
    public static TuneSweepSpec Spec(string algorithm, AlgorithmSettings? settings = null, Dictionary<string, SearchParameter>? space = null,
        int parallelism = 1, int maxTrials = 100, bool budget = true, int seed = 7) => new()
    {
        Template = new ReidExperimentSpec { Dataset = new DatasetSpec { Name = "Synthetic" } },
        SearchSpace = space ?? new()
        {
            ["SOLVER.BASE_LR"] = new() { Type = "loguniform", Min = 1e-5, Max = 1e-2 },
            ["SOLVER.MOMENTUM"] = new() { Type = "uniform", Min = 0, Max = 1 },
        },
        Algorithm = new AlgorithmSpec { Name = algorithm, Seed = seed, Settings = settings },
        Budget = budget ? new BudgetSpec { Key = "SOLVER.MAX_EPOCH" } : null,
        Parallelism = parallelism,
        MaxTrials = maxTrials,
        MaxFailedTrials = maxTrials,
    };

    public static SearchSpace Space(TuneSweepSpec spec)
    {
        var errors = new List<FieldError>();
        var space = SearchSpace.Parse(spec.SearchSpace, errors);
        Assert.Empty(errors);
        return space!;
    }

    public static ISearchAlgorithm Create(TuneSweepSpec spec)
    {
        var errors = new List<FieldError>();
        var algorithm = SearchAlgorithms.Create(spec, Space(spec), errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        return algorithm!;
    }

    /// <summary>The errors a shell reports for a sweep: the validation's, then the algorithm's.</summary>
    public static List<FieldError> Errors(TuneSweepSpec spec)
    {
        var errors = Validation.Validate(new TuneSweep { Metadata = new ObjectMeta { Name = "s" }, Spec = spec }).ToList();
        if (SearchSpace.Parse(spec.SearchSpace, errors) is { } space) SearchAlgorithms.Create(spec, space, errors);
        return errors;
    }

    public static TrialParams Params(double lr = 1e-3, double momentum = 0.5) =>
        new([KeyValuePair.Create<string, JsonNode?>("SOLVER.BASE_LR", lr), KeyValuePair.Create<string, JsonNode?>("SOLVER.MOMENTUM", momentum)]);

    public static TrialView Running(int id, double budget, int bracket = 0, TrialParams? p = null, params RungResult[] results) =>
        new(id, p ?? Params(), bracket, budget, TrialState.Running, results, []);

    public static TrialView Done(int id, double budget, double loss, int bracket = 0, TrialParams? p = null, params RungResult[] earlier) =>
        new(id, p ?? Params(), bracket, budget, TrialState.Succeeded, [.. earlier, new RungResult(budget, loss)], []);

    public static TrialView Failed(int id, double budget, int bracket = 0, params RungResult[] earlier) =>
        new(id, Params(), bracket, budget, TrialState.Failed, earlier, []);

    /// <summary>Applies a step as a shell would: promotions run at their new budget, starts become trials in id order.</summary>
    public static List<TrialView> Apply(IReadOnlyList<TrialView> trials, SearchStep step)
    {
        var next = trials.Select(t => step.Promote.FirstOrDefault(p => p.TrialId == t.Id) is { } p
            ? t with { Budget = p.Budget, State = TrialState.Running } : t).ToList();
        foreach (var s in step.Start) next.Add(new TrialView(next.Count, s.Params, s.Bracket, s.Budget, TrialState.Running, [], []));
        return next;
    }

    /// <summary>Every running trial finishes its budget with <paramref name="loss"/> of its id.</summary>
    public static List<TrialView> FinishAll(IReadOnlyList<TrialView> trials, Func<TrialView, double> loss) =>
        [.. trials.Select(t => t.State == TrialState.Running
            ? t with { State = TrialState.Succeeded, Results = [.. t.Results, new RungResult(t.Budget, loss(t))] } : t)];
}
