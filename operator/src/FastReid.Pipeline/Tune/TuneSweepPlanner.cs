using System.Globalization;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;

namespace FastReid.Pipeline.Tune;

/// <summary>
/// The TuneSweep controller's decisions, as a pure function of the sweep, its observed child ReidExperiments and
/// the ReidExperiments it reads by name (its unfinished trials and its test run: the informer may not have seen a
/// child just created). Each look rebuilds the trials from the children (<see cref="TrialRecord"/> + the child's
/// status: no state of its own), asks <see cref="SweepSearch.Decide"/> what to do, and plans it:
/// <list type="bullet">
/// <item>new trials (<see cref="TrialExperiment.Trial"/>), at most <c>parallelism</c> at once and
/// <c>maxTrials</c> in all;</item>
/// <item>promotions: the finished trial's budget key is raised in place and the budget it finished is recorded in
/// its record; its run id does not change (<see cref="ExperimentNames.RunId"/>), so its new Job resumes its own
/// checkpoint;</item>
/// <item>stops (early stopping, the search's end, a new generation): the child is <b>suspended</b> and marked
/// <see cref="TrialNames.StoppedAnnotation"/>, not deleted: its pods go at once, while its record (the search's
/// state), status and checkpoints stay for the history and for anyone who wants to resume it by hand;</item>
/// <item>when the search ends with a best trial, one test run (<see cref="TrialExperiment.TestRun"/>) scores the
/// best configuration on the test set; the sweep succeeds when it does.</item>
/// </list>
/// A sweep is paused by <c>spec.template.runPolicy.suspend</c>: it starts and promotes nothing, and its running
/// trials (and test run) are suspended with it, to resume their checkpoints when it is unset. A trial deleted by
/// hand while it ran counts as Failed (against maxFailedTrials) and is not recreated: its result is unknown, and
/// recreating it would undo what the user did. A trial deleted after it finished keeps the result its status
/// recorded. A spec change that changes what is searched is a new search (<see cref="TrialNames.Search"/>): the
/// older search's children are kept, its running ones stopped, and none of them is read by the new search.
/// Level-triggered: planning twice on the same input gives the same plan.
/// </summary>
public static class TuneSweepPlanner
{
    /// <summary>The algorithm of a sweep, from its spec and space (problems added under <c>spec.algorithm</c>): <see cref="SearchAlgorithms.Create"/>.</summary>
    public delegate ISearchAlgorithm? AlgorithmFactory(TuneSweepSpec spec, SearchSpace space, List<FieldError> errors);

    /// <param name="algorithms">how the algorithm is made; <see cref="SearchAlgorithms.Create"/> unless given (tests script one).</param>
    public static Plan<TuneSweepStatus> Plan(TuneSweep sweep, ObservedChildren observed, Func<string, ReidExperiment?> experiments, PlannerOptions? options = null,
        AlgorithmFactory? algorithms = null)
    {
        options ??= new PlannerOptions();
        if (sweep.Metadata.DeletionTimestamp is not null)
            return RunLifecycle.Deleting(sweep.Status ?? new TuneSweepStatus()); // the garbage collector removes the trials

        var errors = TrialExperiment.Validate(sweep, options, algorithms ?? SearchAlgorithms.Create, out var space, out var algorithm);
        if (errors.Count > 0 || space is null || algorithm is null)
            return Reject(sweep, errors, observed.Now);
        return new PlanContext(sweep, observed, experiments, space, algorithm).Plan();
    }

    /// <summary>InvalidSpec naming the fields; nothing is created or stopped (trials of an earlier, valid generation keep going).</summary>
    public static Plan<TuneSweepStatus> Reject(TuneSweep sweep, IReadOnlyList<FieldError> errors, DateTimeOffset now) =>
        RunLifecycle.Invalid(sweep, errors, now);

    /// <summary>
    /// The ReidExperiments a sweep reads by name besides its observed children: the trials its status lists as
    /// unfinished and this search's test run, which the informer may not have seen yet right after their create.
    /// </summary>
    public static IEnumerable<string> References(TuneSweep sweep)
    {
        var search = TrialNames.Search(sweep);
        var unfinished = sweep.Status?.Search == search
            ? (sweep.Status.Trials ?? []).Where(t => !Finished(t.Phase)).Select(t => t.Name)
            : [];
        return unfinished.Append(TrialNames.TestName(sweep.Metadata.Name, search)).Distinct(StringComparer.Ordinal);
    }

    public const string Pending = Phases.Pending;
    public const string Running = Phases.Running;
    public const string Succeeded = Phases.Succeeded;
    public const string Failed = Phases.Failed;
    /// <summary>A trial phase: ended early by the search, the sweep's end or a new generation.</summary>
    public const string Stopped = "Stopped";

    private static bool Finished(string? phase) => phase is Succeeded or Failed or Stopped;

    /// <summary>One trial as this look found it: the algorithm's view, what the status shows, and its child when there is one.</summary>
    private sealed record Trial(TrialRecord Record, TrialView View, string Phase, ReidMetrics? Metrics, string? Message, ReidExperiment? Child, bool Stale);

    private sealed class PlanContext(TuneSweep sweep, ObservedChildren observed, Func<string, ReidExperiment?> experiments, SearchSpace space, ISearchAlgorithm algorithm)
    {
        private readonly string _search = TrialNames.Search(sweep);
        private readonly RunLook<TuneSweepStatus> _look = new(sweep, TrialNames.Search(sweep), observed.Now);
        private readonly TuneSweepSpec _spec = sweep.Spec;
        private readonly Lazy<double> _templateBudget = new(() => TrialExperiment.TemplateBudget(sweep.Spec));
        private TuneSweepStatus Previous => _look.Previous;
        private TuneSweepStatus Status => _look.Status;
        private List<ChildAction> Actions => _look.Actions;
        private List<PlannedEvent> Events => _look.Events;
        private bool Suspended => _spec.Template.RunPolicy.Suspend;
        private string Metric => _spec.Objective.Metric;

        public Plan<TuneSweepStatus> Plan()
        {
            if (Conditions.Find(Status.Conditions, ConditionTypes.InvalidSpec) is not null)
                SetCondition(ConditionTypes.InvalidSpec, false, "SpecValid", "the spec is valid");
            if (!_look.SameRun && Previous.Search is not null)
                Events.Add(new(PlannedEvent.Normal, "SpecChanged",
                    $"generation {_look.Generation} changes what is searched: search {_search} replaces {Previous.Search}; the older trials are kept as history (running ones stopped) and not used by the new search"));
            Status.StartTime ??= observed.Now;
            StopOlderSearches();

            var trials = Rebuild();
            var decision = SweepSearch.Decide(_spec, algorithm, [.. trials.Select(t => t.View)]);
            var outcome = decision.Outcome;
            var promoted = new Dictionary<int, double>();
            var stopped = new Dictionary<int, string>();
            foreach (var id in decision.Stop)
            {
                var reason = outcome is null ? $"stopped early by {algorithm.Name}" : $"the search ended: {outcome.Message}";
                if (Stop(trials[id], reason)) stopped[id] = reason;
            }
            if (!Suspended)
            {
                foreach (var promotion in decision.Promote)
                    if (Promote(trials[promotion.TrialId], promotion.Budget)) promoted[promotion.TrialId] = promotion.Budget;
                foreach (var (id, suggestion) in decision.Start)
                    trials.Add(Start(id, suggestion));
            }
            foreach (var trial in trials.Where(t => t.View.State == TrialState.Running && !stopped.ContainsKey(t.Record.Id) && !promoted.ContainsKey(t.Record.Id)))
                PutBack(trial);

            Status.Trials = [.. trials.Select(t => Row(t, promoted, stopped))];
            Status.TrialsCompleted = Status.Trials.Count(t => Finished(t.Phase));
            TrialEvents();
            var best = decision.Best is { } b ? trials[b.Id] : null;
            Status.BestTrial = best is null ? null : Best(best);

            if (outcome is { Succeeded: false })
                End(false, outcome.Reason, outcome.Message);
            else if (outcome is not null && best is not null)
                TestRun(outcome, best);
            else
                Searching(trials);
            return _look.ToPlan(null);
        }

        /// <summary>Trials of an older search (and its test run) that still run are stopped; they stay as history.</summary>
        private void StopOlderSearches()
        {
            foreach (var child in observed.Of<ReidExperiment>())
            {
                if (TrialNames.SearchOf(child) is not { } search || search == _search || TrialNames.StoppedReason(child) is not null) continue;
                if (Phases.IsFinished(child.Status?.Phase) && child.Status?.ObservedGeneration == child.Metadata.Generation) continue;
                Actions.Add(new UpdateChild(TrialExperiment.Stopped(child, $"generation {_look.Generation} of the sweep started a new search ({_search})")));
            }
        }

        /// <summary>Every trial of this search, by id (0 .. n-1), from its child, or from the status where the child is gone or not seen yet.</summary>
        private List<Trial> Rebuild()
        {
            var before = (_look.SameRun ? Previous.Trials : null)?.Where(t => t.Id is not null).ToDictionary(t => t.Id!.Value) ?? [];
            var children = new Dictionary<int, ReidExperiment>();
            foreach (var child in observed.Of<ReidExperiment>().Where(c => TrialNames.SearchOf(c) == _search))
                if (TrialRecord.Of(child) is { } r && child.Metadata.Name == TrialNames.TrialName(sweep.Metadata.Name, _search, r.Id))
                    children[r.Id] = child;
            int count = Math.Max(children.Count == 0 ? 0 : children.Keys.Max() + 1, before.Count == 0 ? 0 : before.Keys.Max() + 1);
            var trials = new List<Trial>(count);
            for (int id = 0; id < count; id++)
            {
                var row = before.GetValueOrDefault(id);
                var child = children.GetValueOrDefault(id);
                string? takenBy = null;
                if (child is null && row is not null && !Finished(row.Phase) && experiments(row.Name) is { } named)
                {
                    // Created by an earlier look, not in the informer's cache yet; or someone else's.
                    if (Controls(named) && TrialRecord.Of(named) is { } r && r.Id == id) child = named;
                    else takenBy = $"the name {row.Name} is held by a ReidExperiment this sweep does not own";
                }
                trials.Add(child is not null ? FromChild(child, row) : Missing(id, row, takenBy));
            }
            return trials;
        }

        private bool Controls(ReidExperiment experiment) =>
            experiment.Metadata.OwnerReferences?.Any(o => o.Uid == sweep.Metadata.Uid && o.Controller == true) == true;

        private Trial FromChild(ReidExperiment child, TrialStatus? row)
        {
            var record = TrialRecord.Of(child)!;
            // The status is written after the actions it plans: a promotion or a stop it lists, which the cached
            // child does not show yet, was made; the child's next change (which wakes this sweep) will show it.
            if (row is not null && ((row.Phase == Stopped && TrialNames.StoppedReason(child) is null) || (record.Budget > 0 && row.Budget > record.Budget)))
                return FromRow(record.Id, row, child, stale: true);

            var results = record.Results.ToList();
            var status = child.Status is { } s && s.ObservedGeneration == child.Metadata.Generation ? s : null;
            string phase;
            string? message = null;
            ReidMetrics? metrics = null;
            if (Conditions.Find(status?.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } invalid)
                (phase, message) = (Failed, $"its ReidExperiment is invalid: {invalid.Message}");
            else if (status?.Phase == Phases.Succeeded)
            {
                metrics = status.Metrics;
                if (SweepSearch.Objective(metrics, Metric) is { } objective)
                {
                    phase = Succeeded;
                    results.Add(new TrialResult { Budget = EffectiveBudget(record.Budget), Objective = objective });
                }
                else
                    (phase, message) = (Failed, $"it succeeded without reporting {Metric}");
            }
            else if (status?.Phase == Phases.Failed)
                (phase, message) = (Failed, Conditions.Find(status.Conditions, ConditionTypes.Failed)?.Message ?? "its ReidExperiment failed");
            else
                (phase, message) = (status?.Phase == Phases.Running ? Running : Pending, RunLifecycle.Stuck(status?.Conditions)?.Message);
            if (TrialNames.StoppedReason(child) is { } reason && phase is Running or Pending)
                (phase, message) = (Stopped, reason);
            var state = phase switch { Succeeded => TrialState.Succeeded, Failed => TrialState.Failed, Stopped => TrialState.Stopped, _ => TrialState.Running };
            return new Trial(record, View(record, state, results, Readings(status)), phase, metrics, message, child, Stale: false);
        }

        /// <summary>
        /// The trial's intermediate reading for the median stopping rule: the last evaluation in its status.progress
        /// (read from its trainer), at its epoch, when the budget is counted in epochs (SOLVER.MAX_EPOCH) and the
        /// evaluation has the objective's figures (mAP, rank-1).
        /// </summary>
        private IReadOnlyList<Reading> Readings(ReidExperimentStatus? status) =>
            (_spec.Budget?.Key ?? "SOLVER.MAX_EPOCH") == "SOLVER.MAX_EPOCH"
            && status?.Progress?.LastEvaluation is { Epoch: > 0 and var epoch } evaluation
            && SweepSearch.Objective(new ReidMetrics { MAP = evaluation.MAP, Rank1 = evaluation.Rank1 }, Metric) is { } objective
                ? [new Reading(epoch, SweepSearch.Loss(objective, _spec.Objective))]
                : [];

        /// <summary>A trial whose child is gone (or not seen yet): deleted while it ran counts as failed; a finished one keeps its result.</summary>
        private Trial Missing(int id, TrialStatus? row, string? takenBy)
        {
            if (row is null)
            {
                // Created, then removed before any status recorded it: a failure with values drawn for its id.
                var record = new TrialRecord { Id = id, Params = space.Sample(Seeds.For(_spec.Algorithm.Seed, id)).ToJson() };
                return new Trial(record, View(record, TrialState.Failed, []), Failed, null, "its ReidExperiment is gone and no status recorded it", null, Stale: false);
            }
            if (Finished(row.Phase)) return FromRow(id, row, null, stale: false);
            var failed = new TrialStatus
            {
                Name = row.Name, Id = id, Params = row.Params, Budget = row.Budget, Bracket = row.Bracket, Results = row.Results, Phase = Failed,
                Message = takenBy ?? "its ReidExperiment was deleted while it ran: its result is unknown, so it counts as failed and is not recreated",
            };
            return FromRow(id, failed, null, stale: false);
        }

        private Trial FromRow(int id, TrialStatus row, ReidExperiment? child, bool stale)
        {
            var record = new TrialRecord
            {
                Id = id, Params = row.Params?.DeepClone().AsObject() ?? [], Bracket = row.Bracket ?? 0,
                Budget = algorithm.UsesBudget ? row.Budget ?? 0 : 0, Results = row.Results?.ToList() ?? [],
            };
            var state = row.Phase switch { Succeeded => TrialState.Succeeded, Failed => TrialState.Failed, Stopped => TrialState.Stopped, _ => TrialState.Running };
            return new Trial(record, View(record, state, record.Results), row.Phase ?? Pending, row.Metrics, row.Message, child, stale);
        }

        private TrialView View(TrialRecord record, TrialState state, IReadOnlyList<TrialResult> results, IReadOnlyList<Reading>? readings = null) =>
            new(record.Id, TrialParams.FromJson(record.Params), record.Bracket, EffectiveBudget(record.Budget), state,
                [.. results.Select(r => new RungResult(r.Budget, SweepSearch.Loss(r.Objective, _spec.Objective)))], readings ?? []);

        private Trial Start(int id, Suggestion suggestion)
        {
            var record = new TrialRecord { Id = id, Params = suggestion.Params.ToJson(), Bracket = suggestion.Bracket, Budget = suggestion.Budget };
            var child = TrialExperiment.Trial(sweep, _search, record);
            Actions.Add(new CreateChild(child));
            // A look before the informer has seen the new child plans the same create (answered "exists"); say it once.
            if (!(_look.SameRun && Previous.Trials?.Any(t => t.Id == id) == true))
                Events.Add(new(PlannedEvent.Normal, "TrialCreated", $"trial {id} ({child.Metadata.Name}): {Describe(record)}"));
            return new Trial(record, View(record, TrialState.Running, []), Pending, null, null, child, Stale: false);
        }

        /// <summary>A finished trial gets a larger budget in place: it resumes its checkpoint (same run id) in a new Job.</summary>
        private bool Promote(Trial trial, double budget)
        {
            if (trial.Child is null || trial.Stale) return false; // removed by hand, or the cache is behind: the next look decides
            var objective = SweepSearch.ObjectiveOf(trial.View.Results[^1].Loss, _spec.Objective);
            var record = new TrialRecord
            {
                Id = trial.Record.Id, Params = trial.Record.Params, Bracket = trial.Record.Bracket, Budget = budget,
                Results = [.. trial.Record.Results, new TrialResult { Budget = trial.Record.Budget, Objective = objective }],
            };
            var desired = TrialExperiment.Trial(sweep, _search, record);
            desired.Metadata.ResourceVersion = trial.Child.Metadata.ResourceVersion;
            Actions.Add(new UpdateChild(desired));
            Events.Add(new(PlannedEvent.Normal, "TrialPromoted", string.Create(CultureInfo.InvariantCulture,
                $"trial {record.Id} ({trial.Child.Metadata.Name}) reached {Metric} {objective:0.####} at budget {Budget(trial.Record.Budget)} and resumes its checkpoint with budget {Budget(budget)}")));
            return true;
        }

        /// <summary>A running trial is suspended and marked stopped (its pods go; its record, status and checkpoints stay).</summary>
        private bool Stop(Trial trial, string reason)
        {
            if (trial.Child is null || trial.Stale) return false;
            Actions.Add(new UpdateChild(TrialExperiment.Stopped(trial.Child, reason)));
            return true;
        }

        /// <summary>A running trial's spec back to the plan: edits by hand, and the sweep's suspend, which its trials follow.</summary>
        private void PutBack(Trial trial)
        {
            if (trial.Child?.Metadata.ResourceVersion is null || trial.Stale) return; // just created, or the cache is behind
            var desired = TrialExperiment.Trial(sweep, _search, trial.Record);
            if (ExperimentNames.CanonicalJson(trial.Child.Spec) == ExperimentNames.CanonicalJson(desired.Spec)) return;
            desired.Metadata.ResourceVersion = trial.Child.Metadata.ResourceVersion;
            Actions.Add(new UpdateChild(desired));
        }

        private TrialStatus Row(Trial trial, Dictionary<int, double> promoted, Dictionary<int, string> stopped)
        {
            var id = trial.Record.Id;
            var results = trial.View.Results.Select(r => new TrialResult { Budget = r.Budget, Objective = SweepSearch.ObjectiveOf(r.Loss, _spec.Objective) }).ToList();
            var row = new TrialStatus
            {
                Name = TrialNames.TrialName(sweep.Metadata.Name, _search, id),
                Id = id,
                Params = trial.Record.Params.DeepClone().AsObject(),
                Phase = trial.Phase,
                Budget = trial.View.Budget,
                Bracket = trial.Record.Bracket,
                Objective = trial.View.Loss is { } loss ? SweepSearch.ObjectiveOf(loss, _spec.Objective) : null,
                Metrics = trial.Metrics,
                Results = results.Count > 0 ? results : null,
                Message = trial.Message,
            };
            if (promoted.TryGetValue(id, out var budget))
            {
                row.Phase = Pending;
                row.Budget = budget;
                row.Objective = null;
                row.Metrics = null;
            }
            else if (stopped.TryGetValue(id, out var reason))
                (row.Phase, row.Message) = (Stopped, reason);
            return row;
        }

        /// <summary>The budget a trial trains to: the algorithm's, or the template's for algorithms without budgets.</summary>
        private double EffectiveBudget(double budget) => budget > 0 ? budget : _templateBudget.Value;

        private string Budget(double budget) => EffectiveBudget(budget).ToString("0.###", CultureInfo.InvariantCulture);

        /// <summary>Events for what changed since the previous look of the same search: trials that finished, failed or stopped.</summary>
        private void TrialEvents()
        {
            var before = (_look.SameRun ? Previous.Trials : null)?.Where(t => t.Id is not null).ToDictionary(t => t.Id!.Value) ?? [];
            foreach (var row in Status.Trials!)
            {
                if (before.GetValueOrDefault(row.Id!.Value) is { } was && was.Phase == row.Phase && was.Budget == row.Budget) continue;
                switch (row.Phase)
                {
                    case Succeeded:
                        Events.Add(new(PlannedEvent.Normal, "TrialSucceeded", string.Create(CultureInfo.InvariantCulture,
                            $"trial {row.Id} ({row.Name}) reached {Metric} {row.Objective:0.####} at budget {row.Budget:0.###}")));
                        break;
                    case Failed:
                        Events.Add(new(PlannedEvent.Warning, "TrialFailed", $"trial {row.Id} ({row.Name}) failed: {row.Message}"));
                        break;
                    case Stopped:
                        Events.Add(new(PlannedEvent.Normal, "TrialStopped", $"trial {row.Id} ({row.Name}) stopped: {row.Message}"));
                        break;
                }
            }
        }

        private BestTrialStatus Best(Trial best)
        {
            var row = Status.Trials![best.Record.Id];
            var last = best.View.Results[^1];
            return new BestTrialStatus
            {
                Name = row.Name,
                Id = row.Id,
                Params = row.Params?.DeepClone().AsObject(),
                Budget = last.Budget,
                Objective = SweepSearch.ObjectiveOf(last.Loss, _spec.Objective),
                Metrics = best.View.Loss is not null ? best.Metrics : null,
            };
        }

        /// <summary>The search goes on (or is paused): Running once it has trials, Pending before, or while suspended.</summary>
        private void Searching(List<Trial> trials)
        {
            Status.CompletionTime = null;
            Status.Conditions?.RemoveAll(c => c.Type is ConditionTypes.Succeeded or ConditionTypes.Failed);
            int running = trials.Count(t => t.View.State == TrialState.Running);
            var progress = string.Create(CultureInfo.InvariantCulture,
                $"{running} trial(s) running, {Status.TrialsCompleted} finished, {trials.Count} of maxTrials {_spec.MaxTrials} started");
            if (Status.BestTrial is { } best)
                progress += string.Create(CultureInfo.InvariantCulture, $"; best so far trial {best.Id} ({Metric} {best.Objective:0.####})");
            if (Suspended)
            {
                Status.Phase = Phases.Pending;
                SetCondition(ConditionTypes.Suspended, true, "Suspended", "spec.template.runPolicy.suspend is true: no trial starts or is promoted, and the running ones are suspended until it is false");
                SetCondition(ConditionTypes.Running, false, "Suspended", progress);
                return;
            }
            if (Conditions.Find(Status.Conditions, ConditionTypes.Suspended) is not null)
                SetCondition(ConditionTypes.Suspended, false, "Resumed", "spec.template.runPolicy.suspend is false");
            Status.Phase = trials.Count > 0 ? Phases.Running : Phases.Pending;
            SetCondition(ConditionTypes.Running, trials.Count > 0, trials.Count > 0 ? "TrialsRunning" : "NoTrials", progress);
        }

        /// <summary>The search ended with a best trial: its configuration is trained once more without the validation split and scored on the test set.</summary>
        private void TestRun(SweepOutcome outcome, Trial best)
        {
            var name = TrialNames.TestName(sweep.Metadata.Name, _search);
            // Scored at the budget of its best result (a trial stopped after a promotion was scored at the one before).
            var budget = algorithm.UsesBudget ? best.View.Results[^1].Budget : 0;
            var record = new TrialRecord { Id = best.Record.Id, Params = best.Record.Params, Bracket = best.Record.Bracket, Budget = budget };
            var desired = TrialExperiment.TestRun(sweep, _search, record);
            var child = observed.Of<ReidExperiment>().FirstOrDefault(e => e.Metadata.Name == name)
                ?? (experiments(name) is { } named && Controls(named) ? named : null);
            var bestRow = Status.BestTrial!;
            bestRow.TestExperiment = name;
            var validation = string.Create(CultureInfo.InvariantCulture, $"validation {Metric} {bestRow.Objective:0.####}");
            var before = _look.SameRun ? Previous.BestTrial : null;
            bool testedThisTrial = before?.TestExperiment == name && before.Id == best.Record.Id;
            if (child is null)
            {
                if (testedThisTrial && before!.TestMetrics is not null)
                {
                    // Removed by hand after it finished: the score stays and nothing is retrained.
                    (bestRow.TestMetrics, bestRow.TestObjective) = (before.TestMetrics, before.TestObjective);
                    Tested(outcome, bestRow, validation);
                    return;
                }
                if (testedThisTrial && Previous.Phase == Phases.Failed)
                {
                    End(false, "TestRunFailed", Conditions.Find(Previous.Conditions, ConditionTypes.Failed)?.Message ?? $"the test run {name} failed");
                    return;
                }
                Actions.Add(new CreateChild(desired));
                if (!testedThisTrial)
                    Events.Add(new(PlannedEvent.Normal, "TestRunCreated",
                        $"{outcome.Message}; ReidExperiment {name} trains trial {best.Record.Id}'s configuration on every training identity and scores it on the test set"));
                TestRunning(outcome, name, best.Record.Id);
                return;
            }
            if (child.Metadata.ResourceVersion is not null && ExperimentNames.CanonicalJson(child.Spec) != ExperimentNames.CanonicalJson(desired.Spec))
            {
                // Another best (maxTrials raised after an end), the sweep's suspend, or an edit by hand: back to the plan.
                desired.Metadata.ResourceVersion = child.Metadata.ResourceVersion;
                Actions.Add(new UpdateChild(desired));
                TestRunning(outcome, name, best.Record.Id);
                return;
            }
            var status = child.Status is { } s && s.ObservedGeneration == child.Metadata.Generation ? s : null;
            if (status?.Phase == Phases.Succeeded)
            {
                bestRow.TestMetrics = status.Metrics;
                bestRow.TestObjective = SweepSearch.Objective(status.Metrics, Metric);
                Tested(outcome, bestRow, validation);
            }
            else if (status?.Phase == Phases.Failed || Conditions.IsTrue(status?.Conditions, ConditionTypes.InvalidSpec))
            {
                var said = Conditions.Find(status!.Conditions, ConditionTypes.Failed)?.Message ?? Conditions.Find(status.Conditions, ConditionTypes.InvalidSpec)?.Message ?? "it failed";
                End(false, "TestRunFailed", $"{outcome.Message}; the test run {name} of trial {best.Record.Id} failed: {said}");
            }
            else
                TestRunning(outcome, name, best.Record.Id);
        }

        private void TestRunning(SweepOutcome outcome, string name, int trial)
        {
            Status.Phase = Phases.Running;
            Status.CompletionTime = null;
            Status.Conditions?.RemoveAll(c => c.Type is ConditionTypes.Succeeded or ConditionTypes.Failed);
            SetCondition(ConditionTypes.Running, true, "TestRun",
                $"{outcome.Message}; ReidExperiment {name} scores trial {trial}'s configuration on the test set");
        }

        private void Tested(SweepOutcome outcome, BestTrialStatus best, string validation)
        {
            var test = best.TestObjective is { } t ? string.Create(CultureInfo.InvariantCulture, $"test-set {Metric} {t:0.####}") : $"the test run reported no {Metric}";
            End(true, outcome.Reason, $"{outcome.Message}: {validation}, {test} ({best.TestExperiment})");
        }

        /// <summary>The sweep's end: its phase, condition and completion time (the Succeeded or Failed event follows from the phase).</summary>
        private void End(bool succeeded, string reason, string message)
        {
            Status.Phase = succeeded ? Phases.Succeeded : Phases.Failed;
            Status.CompletionTime = _look.SameRun && Phases.IsFinished(Previous.Phase) && Previous.CompletionTime is { } done ? done : observed.Now;
            Status.Conditions?.RemoveAll(c => c.Type == (succeeded ? ConditionTypes.Failed : ConditionTypes.Succeeded));
            SetCondition(succeeded ? ConditionTypes.Succeeded : ConditionTypes.Failed, true, reason, message);
            SetCondition(ConditionTypes.Running, false, "Finished", "the search has ended");
        }

        private string Describe(TrialRecord record)
        {
            var values = string.Join(", ", record.Params.Select(p => $"{p.Key}={p.Value?.ToJsonString()}"));
            return $"{values}; budget {Budget(record.Budget)} ({TrialExperiment.BudgetKey(_spec)})";
        }

        private void SetCondition(string type, bool value, string reason, string message) => _look.SetCondition(type, value, reason, message);
    }
}
