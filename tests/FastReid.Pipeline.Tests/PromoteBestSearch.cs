using FastReid.Pipeline.Tune;

namespace FastReid.Pipeline.Tests;

/// <summary>
/// A scripted multi-fidelity search for the sweep's shell tests (the real ones have tests of their own): starts
/// <paramref name="first"/> trials at budget <paramref name="low"/>, promotes the best of them to
/// <paramref name="high"/> once they have all ended, and has nothing more to try after that promotion ends.
/// Linked into FastReid.Operator.Tests, which runs it through the operator and the emulator.
/// </summary>
internal sealed class PromoteBestSearch(SearchSpace space, int seed, int first, double low, double high) : ISearchAlgorithm
{
    public string Name => "promote-best";
    public bool UsesBudget => true;

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        if (trials.Count < first)
        {
            int n = Math.Min(Math.Min(context.Slots, context.TrialsLeft), first - trials.Count);
            return new SearchStep([.. Enumerable.Range(trials.Count, n).Select(id => new Suggestion(space.Sample(Seeds.For(seed, id)), low, 0))], [], [], false);
        }
        if (trials.Any(t => t.Budget >= high)) return SearchStep.None(exhausted: true);
        if (trials.Any(t => t.State == TrialState.Running)) return SearchStep.None();
        var best = trials.Where(t => t.Loss is not null).OrderBy(t => t.Loss).ThenBy(t => t.Id).FirstOrDefault();
        return best is null ? SearchStep.None(exhausted: true) : new SearchStep([], [new Promotion(best.Id, high)], [], false);
    }
}
