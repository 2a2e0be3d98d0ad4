namespace FastReid.Pipeline.Tune;

/// <summary>Budget arithmetic shared by the multi-fidelity algorithms.</summary>
public static class Budgets
{
    /// <summary>Budgets compare with a relative tolerance: they travel through annotations and YAML as text.</summary>
    public static bool Same(double a, double b) => Math.Abs(a - b) <= 1e-9 * Math.Max(1, Math.Abs(b));

    /// <summary>A budget as the trial gets it: a whole number (at least 1) for an integer budget key, else 12 significant digits.</summary>
    public static double Round(double budget, bool integer) =>
        integer ? Math.Max(1, Math.Round(budget)) : double.Parse(budget.ToString("G12", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// Hyperband's brackets (Li et al. 2018) over the ladder of budgets maxBudget·eta^-k, k = sMax..0, where
/// sMax = floor(log_eta(maxBudget / minBudget)). Bracket j (j = 0, 1, ...) runs successive halving with
/// s = sMax - (j mod (sMax + 1)): ceil((sMax+1)/(s+1)·eta^s) trials at budget maxBudget·eta^-s, the best
/// 1/eta of each rung promoted to eta times the budget, up to maxBudget. The brackets repeat (bracket ids keep
/// counting) for as long as new trials may start.
/// </summary>
public sealed class HyperbandSchedule
{
    public HyperbandSchedule(double minBudget, double maxBudget, int eta, bool integerBudgets)
    {
        Eta = eta;
        SMax = (int)Math.Floor(Math.Log(maxBudget / minBudget) / Math.Log(eta) + 1e-9);
        Ladder = [.. Enumerable.Range(0, SMax + 1).Select(k => Budgets.Round(maxBudget * Math.Pow(eta, k - SMax), integerBudgets))];
    }

    public int Eta { get; }
    public int SMax { get; }

    /// <summary>The budgets a trial can be given, smallest first; the last is maxBudget.</summary>
    public IReadOnlyList<double> Ladder { get; }

    /// <summary>The s of bracket <paramref name="bracket"/>: sMax for bracket 0 (the most trials at the smallest budget), down to 0.</summary>
    public int S(int bracket) => SMax - bracket % (SMax + 1);

    /// <summary>Index in <see cref="Ladder"/> of the budget a bracket's trials start at.</summary>
    public int FirstRung(int bracket) => SMax - S(bracket);

    /// <summary>Trials in rung <paramref name="rung"/> (0 = the first) of a bracket: floor(n·eta^-rung), n = ceil((sMax+1)/(s+1)·eta^s).</summary>
    public int RungSize(int bracket, int rung)
    {
        int s = S(bracket);
        long n = (long)Math.Ceiling((SMax + 1.0) / (s + 1) * Math.Pow(Eta, s) - 1e-9);
        for (int i = 0; i < rung; i++) n /= Eta;
        return (int)n;
    }

    /// <summary>The ladder index of a budget, or -1 when it is not on the ladder.</summary>
    public int RungOf(double budget)
    {
        for (int k = 0; k < Ladder.Count; k++) if (Budgets.Same(Ladder[k], budget)) return k;
        return -1;
    }
}

/// <summary>
/// Hyperband with synchronous successive halving inside each bracket: a rung's best 1/eta (by loss at the rung's
/// budget; failed and stopped trials are the worst and never promoted) are promoted, each resuming its own
/// checkpoint at eta times the budget, once every trial of the rung has ended. Free slots go to the oldest bracket
/// first; when the open brackets have nothing to hand out, the next bracket opens (as HpBandSter runs several
/// iterations at once), so slots never idle while new trials may start. A bracket cut short by maxTrials promotes
/// at least one trial per rung. New configurations come from <see cref="NewConfig"/>: uniform draws for
/// Hyperband, BOHB's model for <see cref="BohbSearch"/>. Never exhausted: the brackets repeat until maxTrials.
/// </summary>
public class HyperbandSearch(SearchSpace space, int seed, HyperbandSchedule schedule) : ISearchAlgorithm
{
    public virtual string Name => "hyperband";
    public bool UsesBudget => true;
    public HyperbandSchedule Schedule => schedule;
    protected SearchSpace Space => space;
    protected int Seed => seed;

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        int slots = context.Slots, left = context.TrialsLeft;
        var promote = new List<Promotion>();
        var start = new List<Suggestion>();
        if (slots <= 0) return SearchStep.None();
        var brackets = trials.GroupBy(t => t.Bracket).OrderBy(g => g.Key).ToList();
        foreach (var bracket in brackets)
        {
            if (slots == 0) break;
            var members = bracket.ToList();
            int missing = schedule.RungSize(bracket.Key, 0) - members.Count;
            if (missing > 0 && left > 0)
            {
                int n = Math.Min(missing, Math.Min(slots, left));
                for (int i = 0; i < n; i++) start.Add(new(NewConfig(trials, trials.Count + start.Count), schedule.Ladder[schedule.FirstRung(bracket.Key)], bracket.Key));
                slots -= n; left -= n;
                continue; // the first rung is not complete while it is still filling
            }
            foreach (var p in Promotions(bracket.Key, members, truncated: missing > 0).Take(slots))
            {
                promote.Add(p);
                slots--;
            }
        }
        int next = brackets.Count == 0 ? 0 : brackets[^1].Key + 1;
        bool lastFull = brackets.Count == 0 || brackets[^1].Count() + start.Count(s => s.Bracket == brackets[^1].Key) >= schedule.RungSize(brackets[^1].Key, 0);
        while (slots > 0 && left > 0 && lastFull)
        {
            int n = Math.Min(schedule.RungSize(next, 0), Math.Min(slots, left));
            for (int i = 0; i < n; i++) start.Add(new(NewConfig(trials, trials.Count + start.Count), schedule.Ladder[schedule.FirstRung(next)], next));
            slots -= n; left -= n;
            lastFull = n == schedule.RungSize(next, 0);
            next++;
        }
        return new SearchStep(start, promote, [], Exhausted: false);
    }

    /// <summary>The promotions a bracket is ready for: the top of each complete rung not yet promoted.</summary>
    private IEnumerable<Promotion> Promotions(int bracket, List<TrialView> members, bool truncated)
    {
        int first = schedule.FirstRung(bracket), s = schedule.S(bracket);
        int target = members.Count;
        for (int i = 0; i < s; i++)
        {
            double budget = schedule.Ladder[first + i];
            var rung = members.Where(t => schedule.RungOf(t.Budget) >= first + i).ToList();
            if (rung.Count < target || rung.Any(t => t.State == TrialState.Running && Budgets.Same(t.Budget, budget))) yield break;
            var ranked = rung
                .Select(t => (Trial: t, Result: t.Results.FirstOrDefault(r => Budgets.Same(r.Budget, budget))))
                .Where(x => x.Result is not null && double.IsFinite(x.Result.Loss))
                .OrderBy(x => x.Result!.Loss).ThenBy(x => x.Trial.Id).ToList();
            int keep = truncated ? Math.Max(1, target / schedule.Eta) : target / schedule.Eta;
            keep = Math.Min(keep, ranked.Count);
            var top = ranked.Take(keep).Select(x => x.Trial).ToList();
            foreach (var t in top)
                if (t.State == TrialState.Succeeded && Budgets.Same(t.Budget, budget))
                    yield return new Promotion(t.Id, schedule.Ladder[first + i + 1]);
            target = keep;
            if (target == 0) yield break;
        }
    }

    /// <summary>The configuration of new trial <paramref name="id"/>.</summary>
    protected virtual TrialParams NewConfig(IReadOnlyList<TrialView> trials, int id) => space.Sample(Seeds.For(seed, id));
}
