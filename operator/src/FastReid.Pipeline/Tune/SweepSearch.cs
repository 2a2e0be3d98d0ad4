using System.Globalization;
using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Tune;

/// <summary>How a sweep ended: Succeeded (reason Completed or MaxTrialsReached) or Failed (TooManyFailedTrials).</summary>
public sealed record SweepOutcome(bool Succeeded, string Reason, string Message);

/// <summary>
/// What a shell does next: start these trials (ids assigned in order), give these finished trials a larger
/// budget, stop these running ones; <see cref="Outcome"/> is set once the search is over (every running trial
/// is then to be stopped, which <see cref="Stop"/> already lists). <see cref="Best"/> is the incumbent.
/// </summary>
public sealed record SweepDecision(
    IReadOnlyList<(int Id, Suggestion Suggestion)> Start, IReadOnlyList<Promotion> Promote, IReadOnlyList<int> Stop,
    SweepOutcome? Outcome, TrialView? Best);

/// <summary>
/// The sweep rules both shells share (the TuneSweep controller and <c>fastreid tune</c>), around an
/// <see cref="ISearchAlgorithm"/>: slots from <c>parallelism</c>, trials from <c>maxTrials</c>, failure from
/// <c>maxFailedTrials</c>, the objective from the metrics, and the incumbent. Pure: the same spec and trials give
/// the same decision.
/// </summary>
public static class SweepSearch
{
    /// <summary>The objective of a trial from its metrics: score = (mAP + rank1) / 2 as FastTune, or one metric; null when it is missing.</summary>
    public static double? Objective(ReidMetrics? metrics, string metric) => metrics is null ? null : metric switch
    {
        "score" => metrics.MAP is { } map && metrics.Rank1 is { } r1 ? (map + r1) / 2 : null,
        "mAP" => metrics.MAP,
        "rank1" => metrics.Rank1,
        "rank5" => metrics.Rank5,
        "rank10" => metrics.Rank10,
        "mINP" => metrics.MINP,
        _ => throw new ArgumentException($"unknown objective metric '{metric}'"),
    };

    /// <summary>The loss an algorithm minimises: the objective, negated when it is maximised.</summary>
    public static double Loss(double objective, ObjectiveSpec spec) => spec.Goal == "minimize" ? objective : -objective;

    /// <summary>The objective back from a loss.</summary>
    public static double ObjectiveOf(double loss, ObjectiveSpec spec) => spec.Goal == "minimize" ? loss : -loss;

    /// <summary>
    /// The incumbent: among trials that finished a budget, those at the largest budget any trial finished, the
    /// lowest loss there (ties: the lower id). Null before any trial has a result.
    /// </summary>
    public static TrialView? Best(IReadOnlyList<TrialView> trials)
    {
        var scored = trials.Select(t => (Trial: t, Result: t.Results.Count > 0 ? t.Results[^1] : null)).Where(x => x.Result is not null).ToList();
        if (scored.Count == 0) return null;
        double top = scored.Max(x => x.Result!.Budget);
        return scored.Where(x => x.Result!.Budget == top).OrderBy(x => x.Result!.Loss).ThenBy(x => x.Trial.Id).First().Trial;
    }

    public static SweepDecision Decide(TuneSweepSpec spec, ISearchAlgorithm algorithm, IReadOnlyList<TrialView> trials)
    {
        var running = trials.Where(t => t.State == TrialState.Running).Select(t => t.Id).ToList();
        int failed = trials.Count(t => t.State == TrialState.Failed);
        var best = Best(trials);
        if (failed > spec.MaxFailedTrials)
            return new([], [], running, new(false, "TooManyFailedTrials",
                $"{failed} trials failed, more than maxFailedTrials ({spec.MaxFailedTrials})"), best);

        int slots = Math.Max(0, spec.Parallelism - running.Count);
        int left = Math.Max(0, spec.MaxTrials - trials.Count);
        var step = algorithm.Next(trials, new SearchContext(slots, left));

        var promote = step.Promote
            .Where(p => trials.FirstOrDefault(t => t.Id == p.TrialId) is { State: TrialState.Succeeded } t && p.Budget > t.Budget)
            .Take(slots).ToList();
        var start = step.Start.Take(Math.Min(slots - promote.Count, left))
            .Select((s, i) => (trials.Count + i, s)).ToList();
        var stop = step.Stop.Where(running.Contains).Distinct().ToList();

        bool idle = running.Count == 0 && start.Count == 0 && promote.Count == 0;
        if (!idle) return new(start, promote, stop, null, best);
        // Nothing runs and nothing is to start: the search is over, whatever the reason (never a wedged sweep).
        string done = best is null ? "no trial finished with a result"
            : string.Create(CultureInfo.InvariantCulture, $"best trial {best.Id} at budget {best.Budget:0.###}");
        var outcome = left == 0 && !step.Exhausted
            ? new SweepOutcome(true, "MaxTrialsReached", $"{trials.Count} trials (maxTrials) finished; {done}")
            : new SweepOutcome(true, "Completed", $"{algorithm.Name} has nothing more to try after {trials.Count} trials; {done}");
        if (best is null)
            outcome = new SweepOutcome(false, "NoResult", $"{trials.Count} trials ended and none produced a result");
        return new(start, promote, stop, outcome, best);
    }
}
