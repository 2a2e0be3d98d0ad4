using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Tune;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public sealed class TuneSweepPlannerTests
{
    private static TuneSweep Sweep(string algorithm = "random", int parallelism = 3, int maxTrials = 4, int maxFailed = 1) => new()
    {
        Metadata = new ObjectMeta { Name = "market-sweep", Namespace = "team-a", Uid = "sweep-uid", Generation = 1 },
        Spec = new TuneSweepSpec
        {
            Template = new ReidExperimentSpec
            {
                Dataset = new DatasetSpec { Name = "Market1501", Uri = "s3://datasets/market1501" },
                Config = new JsonObject
                {
                    ["MODEL"] = new JsonObject { ["BACKBONE"] = new JsonObject { ["DEPTH"] = "18x" } },
                    ["SOLVER"] = new JsonObject { ["MAX_EPOCH"] = 60, ["IMS_PER_BATCH"] = 64 },
                },
                Resources = new ResourcesSpec { Nodes = 1 },
                Output = new OutputSpec { Uri = "s3://models/market-sweep" },
            },
            SearchSpace = new()
            {
                ["SOLVER.BASE_LR"] = new SearchParameter { Type = "loguniform", Min = 1e-5, Max = 1e-3 },
                ["DATALOADER.NUM_INSTANCE"] = new SearchParameter { Type = "choice", Values = [2, 4, 8] },
            },
            Algorithm = new AlgorithmSpec { Name = algorithm, Seed = 7 },
            Validation = new SweepValidationSpec { IdentityFraction = 0.25 },
            Parallelism = parallelism,
            MaxTrials = maxTrials,
            MaxFailedTrials = maxFailed,
        },
    };

    /// <summary>The sweep, its children as an API server holds them, and the looks of its controller (with the status written back).</summary>
    private sealed class World(TuneSweep sweep, TuneSweepPlanner.AlgorithmFactory? algorithms = null)
    {
        private int _version;
        public TuneSweep Sweep { get; } = sweep;
        public Dictionary<string, ReidExperiment> Children { get; } = new(StringComparer.Ordinal);
        /// <summary>Children the informer has not seen yet (a read by name finds them).</summary>
        public HashSet<string> Unseen { get; } = [];

        public Plan<TuneSweepStatus> Look(int minute = 1)
        {
            var observed = ObservedChildren.None(T0.AddMinutes(minute)).With(Children.Values.Where(c => !Unseen.Contains(c.Metadata.Name!)).Select(Copy));
            var plan = TuneSweepPlanner.Plan(Sweep, observed, name => Children.TryGetValue(name, out var c) ? Copy(c) : null, null, algorithms);
            foreach (var action in plan.Actions)
            {
                switch (action)
                {
                    case CreateChild { Object: ReidExperiment e } when !Children.ContainsKey(e.Metadata.Name!):
                        var created = Copy(e);
                        created.Metadata.Uid = e.Metadata.Name + "-uid";
                        created.Metadata.Generation = 1;
                        created.Metadata.ResourceVersion = $"{++_version}";
                        Children[e.Metadata.Name!] = created;
                        break;
                    case UpdateChild { Object: ReidExperiment e }:
                        var current = Children[e.Metadata.Name!];
                        Assert.Equal(current.Metadata.ResourceVersion, e.Metadata.ResourceVersion);
                        var updated = Copy(e);
                        updated.Status = current.Status;
                        updated.Metadata.Uid = current.Metadata.Uid;
                        updated.Metadata.Generation = current.Metadata.Generation + (ExperimentNames.CanonicalJson(current.Spec) == ExperimentNames.CanonicalJson(e.Spec) ? 0 : 1);
                        updated.Metadata.ResourceVersion = $"{++_version}";
                        Children[e.Metadata.Name!] = updated;
                        break;
                }
            }
            Sweep.Status = plan.Status;
            return plan;
        }

        /// <summary>What the trial's own controller would write: phase and metrics for its current generation.</summary>
        public void Report(string name, string phase, double? map = null, double? rank1 = null, string? failure = null)
        {
            var child = Children[name];
            child.Status = new ReidExperimentStatus
            {
                Phase = phase, ObservedGeneration = child.Metadata.Generation, JobName = ExperimentNames.RunName(child),
                Metrics = map is null ? null : new ReidMetrics { MAP = map, Rank1 = rank1 },
                Conditions = failure is null ? null : [new Condition { Type = ConditionTypes.Failed, Status = "True", Reason = "BackoffLimitExceeded", Message = failure }],
            };
            child.Metadata.ResourceVersion = $"{++_version}";
        }

        public List<string> Trials => [.. Children.Keys.Where(n => !n.EndsWith("-test", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

        private static ReidExperiment Copy(ReidExperiment e) => ApiJson.Deserialize<ReidExperiment>(ApiJson.Serialize(e));
    }

    private static TuneSweepPlanner.AlgorithmFactory PromoteBest(int first, double low, double high) =>
        (spec, space, _) => new PromoteBestSearch(space, spec.Algorithm.Seed, first, low, high);

    private static Condition Cond(Plan<TuneSweepStatus> plan, string type) => Conditions.Find(plan.Status.Conditions, type)
        ?? throw new Xunit.Sdk.XunitException($"no {type} condition in [{string.Join(", ", plan.Status.Conditions?.Select(c => c.Type) ?? [])}]");

    private static double Num(JsonNode? node) => double.Parse(node!.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    private static JsonNode? Key(ReidExperiment e, string key) =>
        key.Split('.').Aggregate((JsonNode?)e.Spec.Config, (node, part) => node?[part]);

    [Fact]
    public void Trials_are_owned_child_experiments_with_their_values_the_validation_split_and_names_from_the_sweep()
    {
        var world = new World(Sweep());
        var plan = world.Look();
        var created = plan.Actions.OfType<CreateChild>().Select(c => (ReidExperiment)c.Object).ToList();
        Assert.Equal(3, created.Count); // parallelism
        var search = TrialNames.Search(world.Sweep);
        Assert.Equal([$"market-sweep-{search[..6]}-0", $"market-sweep-{search[..6]}-1", $"market-sweep-{search[..6]}-2"], created.Select(c => c.Metadata.Name));
        foreach (var (trial, id) in created.Select((t, i) => (t, i)))
        {
            Assert.Equal("market-sweep", trial.Metadata.Labels![ResourceKinds.TuneSweep.OwnerLabel]);
            Assert.Equal(search, trial.Metadata.Labels[TrialNames.SearchLabel]);
            var owner = Assert.Single(trial.Metadata.OwnerReferences!);
            Assert.Equal(("TuneSweep", "market-sweep", "sweep-uid", true), (owner.Kind, owner.Name, owner.Uid, owner.Controller));
            var record = TrialRecord.Of(trial)!;
            Assert.Equal(id, record.Id);
            // The sampled values as nested config keys, the template's own keys kept, the validation split set.
            Assert.Equal(Num(record.Params["SOLVER.BASE_LR"]), Num(Key(trial, "SOLVER.BASE_LR")));
            Assert.Contains(Num(Key(trial, "DATALOADER.NUM_INSTANCE")), new double[] { 2, 4, 8 });
            Assert.Equal((60.0, 64.0, "18x"), (Num(Key(trial, "SOLVER.MAX_EPOCH")), Num(Key(trial, "SOLVER.IMS_PER_BATCH")), Key(trial, "MODEL.BACKBONE.DEPTH")!.GetValue<string>()));
            Assert.Equal((0.25, 7.0), (Num(Key(trial, "DATASETS.VALIDATION.IDENTITY_FRACTION")), Num(Key(trial, "DATASETS.VALIDATION.SEED"))));
            Assert.Equal($"s3://models/market-sweep/trials/{trial.Metadata.Name}", trial.Spec.Output!.Uri);
            Assert.Equal("SOLVER.MAX_EPOCH", trial.Metadata.Annotations![ExperimentNames.BudgetKeyAnnotation]);
            // The trial is a valid ReidExperiment to its own controller.
            Assert.Null(Conditions.Find(Plan(trial).Status.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } c ? c : null);
        }
        Assert.Equal(3, created.Select(c => TrialRecord.Of(c)!.Params.ToJsonString()).Distinct().Count());
        Assert.Equal(3, plan.Events.Count(e => e.Reason == "TrialCreated"));
        Assert.Equal(Phases.Running, plan.Status.Phase);
        Assert.All(plan.Status.Trials!, t => Assert.Equal(("Pending", 60.0), (t.Phase, t.Budget)));
        Assert.Equal(search, plan.Status.Search);
    }

    [Fact]
    public void A_look_before_the_informer_has_seen_new_trials_creates_no_second_copy()
    {
        var world = new World(Sweep());
        var first = world.Look();
        foreach (var name in world.Trials) world.Unseen.Add(name);
        var again = world.Look(minute: 2);
        // The status lists them, the read by name finds them: nothing new, no event said twice.
        Assert.Empty(again.Actions);
        Assert.Empty(again.Events);
        Assert.Equal(ApiJson.Serialize(first.Status.Trials), ApiJson.Serialize(again.Status.Trials));
        Assert.Equal(3, world.Children.Count);

        // A look that lost its status (a restart before the write) plans the same names: the creates find them there.
        world.Sweep.Status = null;
        world.Unseen.Clear();
        var restarted = world.Look(minute: 3);
        Assert.Empty(restarted.Actions.OfType<CreateChild>());
        Assert.Equal(first.Status.Trials!.Select(t => t.Name), restarted.Status.Trials!.Select(t => t.Name));
    }

    [Fact]
    public void A_sweep_runs_to_max_trials_then_scores_the_best_configuration_once_on_the_test_set()
    {
        var world = new World(Sweep());
        world.Look();
        var trials = world.Trials;
        world.Report(trials[0], Phases.Succeeded, 0.60, 0.80);
        world.Report(trials[1], Phases.Succeeded, 0.70, 0.90);
        world.Report(trials[2], Phases.Running);
        var fourth = world.Look(minute: 2);
        Assert.Single(fourth.Actions.OfType<CreateChild>()); // a slot freed, maxTrials 4
        Assert.Equal(2, fourth.Status.TrialsCompleted);
        Assert.Equal((trials[1], 0.8), (fourth.Status.BestTrial!.Name, fourth.Status.BestTrial.Objective)); // (mAP + rank1) / 2
        Assert.Contains(fourth.Events, e => e.Reason == "TrialSucceeded" && e.Message.Contains("score 0.8 at budget 60"));

        world.Report(trials[2], Phases.Succeeded, 0.50, 0.70);
        world.Report(world.Trials[3], Phases.Succeeded, 0.65, 0.85);
        var ended = world.Look(minute: 3);
        var test = (ReidExperiment)Assert.Single(ended.Actions.OfType<CreateChild>()).Object;
        Assert.Equal($"market-sweep-{ended.Status.Search![..6]}-test", test.Metadata.Name);
        Assert.Equal(0.0, Num(Key(test, "DATASETS.VALIDATION.IDENTITY_FRACTION"))); // every training identity, scored on the test set
        var best = world.Children[trials[1]];
        Assert.Equal(Key(best, "SOLVER.BASE_LR")!.ToJsonString(), Key(test, "SOLVER.BASE_LR")!.ToJsonString());
        Assert.Equal(60, Num(Key(test, "SOLVER.MAX_EPOCH")));
        Assert.Null(TrialRecord.Of(test)); // not a trial: the search never reads it
        Assert.Equal((Phases.Running, "TestRun"), (ended.Status.Phase, Cond(ended, ConditionTypes.Running).Reason));
        Assert.Equal(4, ended.Status.TrialsCompleted);

        world.Report(test.Metadata.Name!, Phases.Succeeded, 0.66, 0.84);
        var done = world.Look(minute: 4);
        Assert.Empty(done.Actions);
        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        Assert.Equal((0.8, 0.75, 0.66), (done.Status.BestTrial!.Objective, done.Status.BestTrial.TestObjective!.Value, done.Status.BestTrial.TestMetrics!.MAP));
        var succeeded = Cond(done, ConditionTypes.Succeeded);
        Assert.Equal("MaxTrialsReached", succeeded.Reason);
        Assert.Contains("validation score 0.8, test-set score 0.75", succeeded.Message);
        Assert.Contains(done.Events, e => e.Reason == "Succeeded");
        Assert.Equal(T0.AddMinutes(4), done.Status.CompletionTime);
        Assert.Empty(world.Look(minute: 5).Actions); // level-triggered: nothing more
    }

    [Fact]
    public void A_promoted_trial_keeps_its_run_id_so_its_new_job_resumes_its_checkpoint()
    {
        var sweep = Sweep(parallelism: 2);
        sweep.Spec.Budget = new BudgetSpec { Key = "SOLVER.MAX_EPOCH" };
        var world = new World(sweep, PromoteBest(first: 2, low: 1, high: 3));
        world.Look();
        var trials = world.Trials;
        Assert.All(trials, t => Assert.Equal(1, Num(Key(world.Children[t], "SOLVER.MAX_EPOCH"))));
        var before = ApiJson.Deserialize<ReidExperiment>(ApiJson.Serialize(world.Children[trials[1]]));
        var firstJob = Assert.Single(Plan(before).Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1Job>());

        world.Report(trials[0], Phases.Succeeded, 0.5, 0.6);
        world.Report(trials[1], Phases.Succeeded, 0.7, 0.8);
        var plan = world.Look(minute: 2);
        var promoted = (ReidExperiment)Assert.Single(plan.Actions.OfType<UpdateChild>()).Object;
        Assert.Equal(trials[1], promoted.Metadata.Name);
        Assert.Equal(3, Num(Key(promoted, "SOLVER.MAX_EPOCH")));
        var record = TrialRecord.Of(promoted)!;
        Assert.Equal((3.0, 1.0, 0.75), (record.Budget, record.Results.Single().Budget, record.Results.Single().Objective));
        Assert.Contains(plan.Events, e => e.Reason == "TrialPromoted" && e.Message.Contains("resumes its checkpoint with budget 3"));
        var row = plan.Status.Trials![1];
        Assert.Equal(("Pending", 3.0, (double?)null), (row.Phase, row.Budget, row.Objective));

        // Its own controller makes a new Job (the spec changed) with the same run id, and RESUME auto.
        var after = world.Children[trials[1]];
        Assert.NotEqual(ExperimentNames.RunName(before), ExperimentNames.RunName(after));
        Assert.Equal(ExperimentNames.RunId(before), ExperimentNames.RunId(after));
        var objects = Plan(after).Actions.OfType<CreateChild>().Select(c => c.Object).ToList();
        var job = Assert.Single(objects.OfType<V1Job>());
        string RunId(V1Job j) => j.Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == ExperimentChildren.RunIdVariable).Value;
        Assert.NotEqual(firstJob.Metadata.Name, job.Metadata.Name);
        Assert.Equal(RunId(firstJob), RunId(job));
        var yaml = Assert.Single(objects.OfType<V1ConfigMap>()).Data[ExperimentChildren.ConfigFileName];
        Assert.Contains("RESUME: 'auto'", yaml);
        Assert.Contains("MAX_EPOCH: 3", yaml);

        // A look whose cache still shows the child before the promotion neither promotes again nor starts another trial.
        world.Children[trials[1]] = before;
        before.Status = new ReidExperimentStatus { Phase = Phases.Succeeded, ObservedGeneration = 1, Metrics = new ReidMetrics { MAP = 0.7, Rank1 = 0.8 } };
        var stale = world.Look(minute: 3);
        Assert.Empty(stale.Actions);
        Assert.Equal(("Pending", 3.0), (stale.Status.Trials![1].Phase, stale.Status.Trials[1].Budget));
        world.Children[trials[1]] = after;

        world.Report(trials[1], Phases.Succeeded, 0.75, 0.875);
        var ended = world.Look(minute: 4);
        var done = ended.Status.Trials![1];
        Assert.Equal([1.0, 3.0], done.Results!.Select(r => r.Budget));
        Assert.Equal((3.0, 0.8125), (ended.Status.BestTrial!.Budget, ended.Status.BestTrial.Objective));
        var test = (ReidExperiment)Assert.Single(ended.Actions.OfType<CreateChild>()).Object;
        Assert.Equal(3, Num(Key(test, "SOLVER.MAX_EPOCH"))); // the best budget
        Assert.Contains("promote-best has nothing more to try after 2 trials", Cond(ended, ConditionTypes.Running).Message);
    }

    [Fact]
    public void A_trial_deleted_while_it_runs_is_failed_and_not_recreated_and_the_sweep_goes_on()
    {
        var world = new World(Sweep(maxTrials: 5));
        world.Look();
        var gone = world.Trials[1];
        world.Children.Remove(gone);
        var plan = world.Look(minute: 2);
        Assert.DoesNotContain(plan.Actions.OfType<CreateChild>(), c => ChildObjects.Name(c.Object) == gone);
        var row = plan.Status.Trials!.Single(t => t.Name == gone);
        Assert.Equal(Phases.Failed, row.Phase);
        Assert.Contains("deleted while it ran", row.Message);
        Assert.Contains(plan.Events, e => e is { Type: "Warning", Reason: "TrialFailed" } && e.Message.Contains(gone));
        // Its slot goes to a new trial (id 3), and the failure counts against maxFailedTrials (1): the sweep runs on.
        var next = (ReidExperiment)Assert.Single(plan.Actions.OfType<CreateChild>()).Object;
        Assert.Equal(3, TrialRecord.Of(next)!.Id);
        Assert.Equal(Phases.Running, plan.Status.Phase);
        Assert.Equal(Phases.Failed, world.Look(minute: 3).Status.Trials!.Single(t => t.Name == gone).Phase);
    }

    [Fact]
    public void A_trial_whose_pod_cannot_start_says_why_in_its_row_and_its_deadline_failure_is_its_failure()
    {
        var world = new World(Sweep(maxFailed: 1));
        world.Look();
        var trial = world.Trials[0];
        const string stuck = "pod t-0-abcde: Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
        world.Report(trial, Phases.Pending);
        world.Children[trial].Status!.Conditions = [new Condition { Type = ConditionTypes.PodsReady, Status = "False", Reason = "Unschedulable", Message = stuck }];
        var waiting = world.Look(minute: 2).Status.Trials!.Single(t => t.Name == trial);
        Assert.Equal((Phases.Pending, stuck), (waiting.Phase, waiting.Message));

        world.Report(trial, Phases.Failed, failure: stuck + "; not started within 600s (runPolicy.pendingDeadlineSeconds): its Job is deleted");
        var failed = world.Look(minute: 12).Status.Trials!.Single(t => t.Name == trial);
        Assert.Equal(Phases.Failed, failed.Phase);
        Assert.Contains("3 Insufficient nvidia.com/gpu.; not started within 600s", failed.Message);
    }

    [Fact]
    public void Too_many_failed_trials_fail_the_sweep_and_stop_its_running_trials_without_deleting_them()
    {
        var world = new World(Sweep(maxFailed: 0));
        world.Look();
        var trials = world.Trials;
        world.Report(trials[0], Phases.Failed, failure: "CUDA out of memory");
        world.Report(trials[1], Phases.Running);
        var plan = world.Look(minute: 2);
        Assert.Empty(plan.Actions.OfType<CreateChild>());
        Assert.Empty(plan.Actions.OfType<DeleteChild>());
        var stopped = plan.Actions.OfType<UpdateChild>().Select(u => (ReidExperiment)u.Object).ToList();
        Assert.Equal([trials[1], trials[2]], stopped.Select(s => s.Metadata.Name));
        Assert.All(stopped, s => Assert.True(s.Spec.RunPolicy.Suspend));
        Assert.All(stopped, s => Assert.StartsWith("the search ended: 1 trials failed", s.Metadata.Annotations![TrialNames.StoppedAnnotation]));
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        Assert.Equal("TooManyFailedTrials", Cond(plan, ConditionTypes.Failed).Reason);
        Assert.Equal([Phases.Failed, "Stopped", "Stopped"], plan.Status.Trials!.Select(t => t.Phase));
        Assert.Contains("CUDA out of memory", plan.Status.Trials![0].Message);
        var again = world.Look(minute: 3);
        Assert.Empty(again.Actions);
        Assert.Equal(Phases.Failed, again.Status.Phase);
        Assert.Equal(3, again.Status.TrialsCompleted);
    }

    [Fact]
    public void A_suspended_sweep_suspends_its_running_trials_starts_nothing_and_resumes_the_same_search()
    {
        var world = new World(Sweep(maxTrials: 6));
        world.Look();
        var search = world.Sweep.Status!.Search;
        world.Report(world.Trials[0], Phases.Succeeded, 0.5, 0.5);
        world.Sweep.Spec.Template.RunPolicy.Suspend = true;
        world.Sweep.Metadata.Generation = 2;
        var paused = world.Look(minute: 2);
        Assert.Empty(paused.Actions.OfType<CreateChild>());
        var suspended = paused.Actions.OfType<UpdateChild>().Select(u => (ReidExperiment)u.Object).ToList();
        Assert.Equal(world.Trials.Skip(1), suspended.Select(s => s.Metadata.Name)); // the running ones, not the finished
        Assert.All(suspended, s => Assert.True(s.Spec.RunPolicy.Suspend));
        Assert.Equal((Phases.Pending, search), (paused.Status.Phase, paused.Status.Search));
        Assert.Equal("True", Cond(paused, ConditionTypes.Suspended).Status);

        world.Sweep.Spec.Template.RunPolicy.Suspend = false;
        var resumed = world.Look(minute: 3);
        Assert.Equal(2, resumed.Actions.OfType<UpdateChild>().Count(u => !((ReidExperiment)u.Object).Spec.RunPolicy.Suspend));
        Assert.Single(resumed.Actions.OfType<CreateChild>()); // the slot trial 0 left
        Assert.Equal((Phases.Running, "False"), (resumed.Status.Phase, Cond(resumed, ConditionTypes.Suspended).Status));
    }

    [Fact]
    public void A_change_of_what_is_searched_is_a_new_search_that_stops_and_keeps_the_older_trials()
    {
        var world = new World(Sweep());
        world.Look();
        var older = world.Trials;
        world.Report(older[0], Phases.Succeeded, 0.5, 0.5);
        world.Sweep.Spec.SearchSpace["SOLVER.BASE_LR"].Max = 1e-2;
        world.Sweep.Metadata.Generation = 2;
        var plan = world.Look(minute: 2);
        var stopped = plan.Actions.OfType<UpdateChild>().Select(u => (ReidExperiment)u.Object).ToList();
        Assert.Equal(older.Skip(1), stopped.Select(s => s.Metadata.Name));
        Assert.All(stopped, s => Assert.Contains("started a new search", s.Metadata.Annotations![TrialNames.StoppedAnnotation]));
        var created = plan.Actions.OfType<CreateChild>().Select(c => ChildObjects.Name(c.Object)).ToList();
        Assert.Equal(3, created.Count);
        Assert.Empty(created.Intersect(older));
        Assert.Equal(created, plan.Status.Trials!.Select(t => t.Name)); // only this search's trials; the older ones stay as children
        Assert.Contains(plan.Events, e => e.Reason == "SpecChanged");
        Assert.Empty(plan.Actions.OfType<DeleteChild>());

        // Raising maxTrials is not a new search.
        world.Sweep.Spec.MaxTrials = 8;
        Assert.Equal(plan.Status.Search, world.Look(minute: 3).Status.Search);
    }

    [Fact]
    public void A_bad_search_space_or_an_unknown_algorithm_setting_is_invalid_spec_naming_it()
    {
        var sweep = Sweep();
        sweep.Spec.SearchSpace["SOLVER.BASE_LRR"] = new SearchParameter { Type = "uniform", Min = 0, Max = 1 };
        sweep.Spec.Algorithm.Settings = ApiJson.Deserialize<AlgorithmSettings>("{\"maxBudgt\": 9}");
        sweep.Spec.Template.Config!["DATASETS"] = new JsonObject { ["VALIDATION"] = new JsonObject { ["IDENTITY_FRACTION"] = 0.5 } };
        var plan = TuneSweepPlanner.Plan(sweep, ObservedChildren.None(T0), _ => null);
        Assert.Empty(plan.Actions);
        var invalid = Cond(plan, ConditionTypes.InvalidSpec);
        Assert.Contains("spec.searchSpace[\"SOLVER.BASE_LRR\"]: 'SOLVER.BASE_LRR' is not a FastReID config key (closest: SOLVER.BASE_LR)", invalid.Message);
        Assert.Contains("spec.template.config.DATASETS.VALIDATION.IDENTITY_FRACTION: is set by the operator from spec.validation.identityFraction", invalid.Message);
        Assert.Equal(Phases.Failed, plan.Status.Phase);

        sweep.Spec.SearchSpace.Remove("SOLVER.BASE_LRR");
        var settings = Cond(TuneSweepPlanner.Plan(sweep, ObservedChildren.None(T0), _ => null), ConditionTypes.InvalidSpec);
        Assert.Contains("spec.algorithm.settings.maxBudgt", settings.Message);

        var budget = Sweep();
        budget.Spec.Budget = new BudgetSpec { Key = "SOLVER.BASE_LR" };
        Assert.Contains("spec.budget.key: 'SOLVER.BASE_LR' cannot carry a training budget", Cond(TuneSweepPlanner.Plan(budget, ObservedChildren.None(T0), _ => null), ConditionTypes.InvalidSpec).Message);
    }

    [Fact]
    public void An_experiment_naming_a_key_that_cannot_carry_a_budget_is_invalid()
    {
        var e = Experiment();
        e.Metadata.Annotations = new() { [ExperimentNames.BudgetKeyAnnotation] = "SOLVER.BASE_LR" };
        var invalid = Conditions.Find(Plan(e).Status.Conditions, ConditionTypes.InvalidSpec)!;
        Assert.Contains("metadata.annotations[fastreid.io/budget-key]: 'SOLVER.BASE_LR' cannot carry a training budget (known: SOLVER.MAX_EPOCH)", invalid.Message);
        // Without the annotation the run id is the run name, as before.
        Assert.Equal(ExperimentNames.RunName(Experiment()), ExperimentNames.RunId(Experiment()));
    }

    [Fact]
    public void The_median_rule_stops_a_running_trial_whose_live_evaluation_is_below_the_others()
    {
        var sweep = Sweep("median", parallelism: 3, maxTrials: 3);
        sweep.Spec.Algorithm.Settings = new AlgorithmSettings { MedianStopping = new MedianStoppingSettings { GracePeriod = 1, MinTrials = 2 } };
        var world = new World(sweep);
        world.Look();
        var trials = world.Trials;
        Assert.Equal(3, trials.Count);
        foreach (var (name, figure) in trials.Zip([0.9, 0.8, 0.1]))
        {
            world.Report(name, Phases.Running);
            // what the trial's controller read from its trainer's metrics page
            world.Children[name].Status!.Progress = new TrainingProgress
            {
                Epoch = 3, MaxEpoch = 60, Iteration = 90, MaxIteration = 1800,
                LastEvaluation = new ProgressEvaluation { Epoch = 2, MAP = figure, Rank1 = figure },
            };
        }
        var plan = world.Look(minute: 2);
        Assert.Equal(["Running", "Running", "Stopped"], plan.Status.Trials!.Select(t => t.Phase));
        Assert.NotNull(world.Children[trials[2]].Metadata.Annotations?.GetValueOrDefault(TrialNames.StoppedAnnotation));
    }
}
