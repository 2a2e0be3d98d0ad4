namespace FastReid.Pipeline.Tune;

/// <summary>
/// The median stopping rule (Golovin et al. 2017, Google Vizier), around any algorithm: a running trial whose
/// latest reading is at step s ≥ <c>gracePeriod</c> is stopped when its best loss up to s is worse than the median,
/// over the other trials that reached s (at least <c>minTrials</c> of them, in any state), of their running
/// averages up to s. A trial's readings are its <see cref="TrialView.Readings"/> and its rung results (the budget
/// as the step). The inner algorithm's own stops are kept; it is asked first, so it still sees every slot.
/// </summary>
public sealed class MedianStopping(ISearchAlgorithm inner, double gracePeriod, int minTrials, string? name = null) : ISearchAlgorithm
{
    public string Name => name ?? inner.Name;
    public bool UsesBudget => inner.UsesBudget;
    public ISearchAlgorithm Inner => inner;

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        var step = inner.Next(trials, context);
        var histories = trials.ToDictionary(t => t.Id, History);
        var stop = new List<int>(step.Stop);
        foreach (var t in trials)
        {
            if (t.State != TrialState.Running || stop.Contains(t.Id) || histories[t.Id] is not { Count: > 0 } mine) continue;
            double s = mine[^1].Step;
            if (s < gracePeriod) continue;
            double best = mine.Where(r => r.Step <= s).Min(r => r.Loss);
            var averages = trials
                .Where(o => o.Id != t.Id && histories[o.Id] is { Count: > 0 } h && h[^1].Step >= s)
                .Select(o => histories[o.Id].Where(r => r.Step <= s).Select(r => r.Loss).DefaultIfEmpty(double.PositiveInfinity).Average())
                .ToList();
            if (averages.Count >= minTrials && best > Median(averages)) stop.Add(t.Id);
        }
        return step with { Stop = stop };
    }

    /// <summary>A trial's readings and rung results by step (finite losses only).</summary>
    internal static List<Reading> History(TrialView t) =>
        [.. t.Readings.Concat(t.Results.Select(r => new Reading(r.Budget, r.Loss)))
            .Where(r => double.IsFinite(r.Loss)).DistinctBy(r => (r.Step, r.Loss)).OrderBy(r => r.Step)];

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
