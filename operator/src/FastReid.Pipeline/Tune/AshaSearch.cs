namespace FastReid.Pipeline.Tune;

/// <summary>
/// Asynchronous successive halving (Li et al. 2020): rungs at minBudget·eta^k below maxBudget, and maxBudget last.
/// Whenever a slot is free, the highest rung first, a trial among the best floor(n/eta) of the n trials that ended
/// that rung (failed and stopped ones count, as the worst), and not promoted yet, is promoted to the next rung
/// (resuming its checkpoint); with none to promote, a new uniform draw starts at minBudget. Never exhausted:
/// promotions go on after maxTrials until no rung has anything left to promote.
/// </summary>
public sealed class AshaSearch : ISearchAlgorithm
{
    private readonly SearchSpace _space;
    private readonly int _seed, _eta;

    public AshaSearch(SearchSpace space, int seed, double minBudget, double maxBudget, int eta, bool integerBudgets)
    {
        _space = space; _seed = seed; _eta = eta;
        var rungs = new List<double>();
        for (int k = 0; minBudget * Math.Pow(eta, k) < maxBudget * (1 - 1e-9); k++) rungs.Add(Budgets.Round(minBudget * Math.Pow(eta, k), integerBudgets));
        rungs.Add(Budgets.Round(maxBudget, integerBudgets));
        Rungs = [.. rungs.Distinct()];
    }

    public string Name => "asha";
    public bool UsesBudget => true;

    /// <summary>The rung budgets, smallest first.</summary>
    public IReadOnlyList<double> Rungs { get; }

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        if (context.Slots <= 0) return SearchStep.None();
        var promote = new List<Promotion>();
        for (int k = Rungs.Count - 2; k >= 0 && promote.Count < context.Slots; k--)
        {
            double budget = Rungs[k];
            var ended = trials
                .Select(t => (Trial: t, Result: t.Results.FirstOrDefault(r => Budgets.Same(r.Budget, budget))))
                .Where(x => x.Result is not null || x.Trial.State is TrialState.Failed or TrialState.Stopped && Budgets.Same(x.Trial.Budget, budget))
                .OrderBy(x => x.Result is { } r && double.IsFinite(r.Loss) ? r.Loss : double.PositiveInfinity).ThenBy(x => x.Trial.Id)
                .ToList();
            foreach (var (t, result) in ended.Take(ended.Count / _eta))
            {
                if (promote.Count >= context.Slots) break;
                if (result is not null && double.IsFinite(result.Loss) && t.State == TrialState.Succeeded && Budgets.Same(t.Budget, budget))
                    promote.Add(new Promotion(t.Id, Rungs[k + 1]));
            }
        }
        int n = Math.Min(context.Slots - promote.Count, context.TrialsLeft);
        var start = Enumerable.Range(0, Math.Max(0, n)).Select(i => new Suggestion(_space.Sample(Seeds.For(_seed, trials.Count + i)), Rungs[0], 0)).ToList();
        return new SearchStep(start, promote, [], Exhausted: false);
    }
}
