namespace FastReid.Pipeline.Tune;

/// <summary>
/// The tree-structured Parzen estimator (Bergstra et al. 2011), in its multivariate form: the first
/// <c>startupTrials</c> trials (by id) are uniform draws; later ones split the trials with a result into the best
/// <c>gamma</c> fraction, at most 25 (the good density l) and the rest (g), failed and stopped trials counted among the worst,
/// fit a <see cref="ParzenEstimator"/> with a uniform prior to each (Scott's bandwidths, at least 1/min(100, n+1)
/// as hyperopt's neighbour rule floors them), draw <c>candidates</c> points from l and try the one with the largest
/// l(x)/g(x). Running trials are not observations. Not multi-fidelity: trials run at the template's budget.
/// </summary>
public sealed class TreeParzenSearch(SearchSpace space, int seed, int startupTrials, double gamma, int candidates) : ISearchAlgorithm
{
    /// <summary>The most trials the good density is fitted to.</summary>
    public const int MaxGood = 25;

    public string Name => "tpe";
    public bool UsesBudget => false;

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        int n = Math.Min(context.Slots, context.TrialsLeft);
        if (n <= 0) return SearchStep.None();
        var model = Fit(trials);
        var start = new List<Suggestion>();
        for (int i = 0; i < n; i++)
        {
            int id = trials.Count + i;
            start.Add(new Suggestion(id < startupTrials || model is null ? space.Sample(Seeds.For(seed, id)) : Suggest(model.Value, id), 0, 0));
        }
        return new SearchStep(start, [], [], Exhausted: false);
    }

    private TrialParams Suggest((ParzenEstimator Good, ParzenEstimator Bad) model, int id)
    {
        var random = Seeds.For(seed, id, 1);
        double[]? best = null;
        double bestScore = double.NegativeInfinity;
        for (int c = 0; c < candidates; c++)
        {
            var x = model.Good.Sample(random);
            double score = Math.Log(Math.Max(model.Good.Density(x), 1e-300)) - Math.Log(Math.Max(model.Bad.Density(x), 1e-300));
            if (score > bestScore) { bestScore = score; best = x; }
        }
        return space.Decode(best!);
    }

    /// <summary>The good and bad densities, or null while fewer than two trials have ended.</summary>
    public (ParzenEstimator Good, ParzenEstimator Bad)? Fit(IReadOnlyList<TrialView> trials)
    {
        var ranked = Observations.Ranked(space, trials);
        if (ranked.Count < 2) return null;
        // Optuna's cap: past 25 good points the good density stops narrowing onto the best region.
        int good = Math.Clamp(Math.Min((int)Math.Ceiling(gamma * ranked.Count), MaxGood), 1, ranked.Count - 1);
        return (Density(ranked.Take(good).ToList()), Density(ranked.Skip(good).ToList()));
    }

    private ParzenEstimator Density(List<double[]> points)
    {
        double floor = 1.0 / Math.Min(100, points.Count + 1);
        return new ParzenEstimator(space.Dimensions, points, ParzenEstimator.NormalReference(space.Dimensions, points, floor), priorWeight: 1);
    }
}

/// <summary>Trials as the model-based algorithms learn from them.</summary>
internal static class Observations
{
    /// <summary>
    /// The unit-cube points of the trials that ended, best first: those with a result by their last loss (ties by
    /// id), then failed and stopped ones (the worst, by id). With <paramref name="budget"/>, only results at that
    /// budget (and trials that failed or were stopped while given it).
    /// </summary>
    public static List<double[]> Ranked(SearchSpace space, IReadOnlyList<TrialView> trials, double? budget = null)
    {
        var scored = new List<(double Loss, int Id, double[] Point)>();
        foreach (var t in trials)
        {
            RungResult? result = budget is { } b ? t.Results.FirstOrDefault(r => Budgets.Same(r.Budget, b)) : t.Results.Count > 0 ? t.Results[^1] : null;
            if (result is not null && double.IsFinite(result.Loss))
                scored.Add((result.Loss, t.Id, space.Encode(t.Params)));
            else if (t.State is TrialState.Failed or TrialState.Stopped && (budget is not { } b2 || Budgets.Same(t.Budget, b2)))
                scored.Add((double.PositiveInfinity, t.Id, space.Encode(t.Params)));
        }
        return [.. scored.OrderBy(s => s.Loss).ThenBy(s => s.Id).Select(s => s.Point)];
    }
}
