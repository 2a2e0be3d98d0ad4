namespace FastReid.Pipeline.Tune;

/// <summary>Where a trial stands. Pending and running trials are both <see cref="Running"/>: they hold a slot.</summary>
public enum TrialState { Running, Succeeded, Failed, Stopped }

/// <summary>The loss (lower is better; a maximised objective is negated) a trial reached at a budget it finished.</summary>
public sealed record RungResult(double Budget, double Loss);

/// <summary>An intermediate reading of a running trial (an evaluation at <paramref name="Step"/>, in budget units).</summary>
public sealed record Reading(double Step, double Loss);

/// <summary>
/// One trial as every algorithm sees it, rebuilt by the shell (the operator from child ReidExperiments, the local
/// runner from trial folders) before each decision. <paramref name="Budget"/> is what it was last given; when a
/// promoted trial resumes, <paramref name="Results"/> keeps the loss of every budget it finished, in order.
/// <paramref name="Bracket"/> is whatever the algorithm put in its <see cref="Suggestion"/> (Hyperband's bracket,
/// 0 for algorithms without brackets).
/// </summary>
public sealed record TrialView(
    int Id, TrialParams Params, int Bracket, double Budget, TrialState State,
    IReadOnlyList<RungResult> Results, IReadOnlyList<Reading> Readings)
{
    /// <summary>The loss at the trial's current budget, when it finished that budget.</summary>
    public double? Loss => State == TrialState.Succeeded && Results.Count > 0 && Results[^1].Budget == Budget ? Results[^1].Loss : null;
}

/// <summary>A new trial: its values, the budget it starts with, and the bracket it belongs to.</summary>
public sealed record Suggestion(TrialParams Params, double Budget, int Bracket);

/// <summary>A finished trial given a larger budget; it resumes its own checkpoint.</summary>
public sealed record Promotion(int TrialId, double Budget);

/// <summary>
/// One decision: trials to start (at most the free slots and the trials left), trials to promote (each also
/// takes a slot), running trials to stop early, and whether the algorithm has nothing more to suggest ever
/// (a grid covered, every Hyperband bracket finished) once the running trials end.
/// </summary>
public sealed record SearchStep(IReadOnlyList<Suggestion> Start, IReadOnlyList<Promotion> Promote, IReadOnlyList<int> Stop, bool Exhausted)
{
    public static SearchStep None(bool exhausted = false) => new([], [], [], exhausted);
}

/// <summary>What the shell tells the algorithm besides the trials.</summary>
/// <param name="Slots">trials that may start or be promoted now (parallelism minus running trials).</param>
/// <param name="TrialsLeft">new trials that may still be started (maxTrials minus trials started); promotions are not trials.</param>
public sealed record SearchContext(int Slots, int TrialsLeft);

/// <summary>
/// A search algorithm as a pure function: the same seed, space, settings and trials give the same step, so the
/// state can be rebuilt from the trials after any restart. Trial ids are assigned by the shell in start order
/// (0, 1, ...): the n-th suggestion ever made becomes trial n. Failed and stopped trials are results too
/// (never promoted, never counted as good).
/// </summary>
public interface ISearchAlgorithm
{
    /// <summary>The CRD's name of the algorithm (random, grid, tpe, hyperband, bohb, asha, dehb).</summary>
    string Name { get; }

    /// <summary>Whether a trial's budget comes from the algorithm (multi-fidelity) rather than the template's config.</summary>
    bool UsesBudget { get; }

    SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context);
}

/// <summary>
/// Seeds for per-trial draws: a stable mix of the sweep's seed and the trial's id (and a stream number), so the
/// values of trial n do not depend on how many decisions came before it. The only randomness of the planners:
/// always seeded (<c>new Random(int)</c> uses .NET's seeded generator, the same sequence on every runtime), so
/// a decision is a pure function of the spec and the trials.
/// </summary>
public static class Seeds
{
    public static Random For(int seed, int trialId, int stream = 0)
    {
        ulong x = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)trialId * 0xC2B2AE3D27D4EB4FUL ^ (ulong)(uint)stream * 0x165667B19E3779F9UL;
        x ^= x >> 33; x *= 0xFF51AFD7ED558CCDUL; x ^= x >> 33; x *= 0xC4CEB9FE1A85EC53UL; x ^= x >> 33;
        return new Random((int)(x & 0x7FFFFFFF));
    }
}

/// <summary>Random search: each trial a uniform draw, at the template's budget.</summary>
public sealed class RandomSearch(SearchSpace space, int seed) : ISearchAlgorithm
{
    public string Name => "random";
    public bool UsesBudget => false;

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        int n = Math.Min(context.Slots, context.TrialsLeft);
        var start = new List<Suggestion>();
        for (int i = 0; i < n; i++)
            start.Add(new Suggestion(space.Sample(Seeds.For(seed, trials.Count + i)), 0, 0));
        return new SearchStep(start, [], [], Exhausted: false);
    }
}
