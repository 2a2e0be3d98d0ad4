using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Tune;

/// <summary>The incumbent after some budget was spent.</summary>
public sealed record SweepProgress(double Spent, TrialView Best);

/// <summary>A simulated sweep: the incumbent after each trial finished a budget, the budget spent in all, and how it ended (null: the budget cap).</summary>
public sealed record SimulatedRun(IReadOnlyList<SweepProgress> Progress, double Spent, SweepOutcome? Outcome)
{
    public TrialView Best => Progress[^1].Best;
}

/// <summary>
/// A sweep run in-process against a known function instead of trainer processes, through the same
/// <see cref="SweepSearch.Decide"/> the shells use: for benchmarks and tests of whole sweeps. Time is counted in
/// budget units and every running trial advances one unit per unit of time, so with parallelism above 1 the
/// trials finish in the order a real cluster would finish them. A promoted trial resumes where it stopped, so the
/// budget spent is the sum of the trials' final budgets (a stopped trial: what it ran).
/// </summary>
public static class SimulatedSweep
{
    /// <param name="loss">the loss of a configuration after a budget (trial id given for seeded noise)</param>
    /// <param name="templateBudget">the budget of algorithms that do not set one</param>
    /// <param name="readingEvery">a reading every this many budget units (0: none; the median rule needs them)</param>
    public static SimulatedRun Run(TuneSweepSpec spec, ISearchAlgorithm algorithm, Func<TrialParams, double, int, double> loss,
        double templateBudget, double budgetCap, double readingEvery = 0)
    {
        var trials = new List<Trial>();
        var progress = new List<SweepProgress>();
        double spent = 0;
        for (int guard = 0; guard < 1_000_000; guard++)
        {
            var views = trials.Select(t => t.View()).ToList();
            var decision = SweepSearch.Decide(spec, algorithm, views);
            foreach (int id in decision.Stop) trials[id].State = TrialState.Stopped;
            foreach (var p in decision.Promote) { trials[p.TrialId].State = TrialState.Running; trials[p.TrialId].Budget = p.Budget; }
            foreach (var (id, s) in decision.Start)
                trials.Add(new Trial(id, s.Params, s.Bracket, s.Budget > 0 ? s.Budget : templateBudget));
            var running = trials.Where(t => t.State == TrialState.Running).ToList();
            if (decision.Outcome is not null) return new(progress, spent, decision.Outcome);
            if (spent >= budgetCap) break;
            if (running.Count == 0) continue; // trials were stopped: their slots are free at the next decision

            double dt = running.Min(t => t.Budget - t.Ran);
            if (readingEvery > 0) dt = Math.Min(dt, running.Min(t => readingEvery - t.Ran % readingEvery));
            spent += dt * running.Count;
            bool finished = false;
            foreach (var t in running)
            {
                t.Ran += dt;
                if (Budgets.Same(t.Ran, t.Budget))
                {
                    t.Ran = t.Budget;
                    t.Results.Add(new RungResult(t.Budget, loss(t.Params, t.Budget, t.Id)));
                    t.State = TrialState.Succeeded;
                    finished = true;
                }
                else if (readingEvery > 0)
                    t.Readings.Add(new Reading(t.Ran, loss(t.Params, t.Ran, t.Id)));
            }
            if (finished && SweepSearch.Best([.. trials.Select(t => t.View())]) is { } best) progress.Add(new(spent, best));
        }
        return new(progress, spent, null);
    }

    private sealed class Trial(int id, TrialParams parameters, int bracket, double budget)
    {
        public int Id => id;
        public TrialParams Params => parameters;
        public double Budget { get; set; } = budget;
        public double Ran { get; set; }
        public TrialState State { get; set; } = TrialState.Running;
        public List<RungResult> Results { get; } = [];
        public List<Reading> Readings { get; } = [];
        public TrialView View() => new(id, parameters, bracket, Budget, State, [.. Results], [.. Readings]);
    }
}
