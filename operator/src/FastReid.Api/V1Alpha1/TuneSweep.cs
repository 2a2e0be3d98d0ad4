using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace FastReid.Api.V1Alpha1;

/// <summary>Hyperparameter search (FastTune): each trial is a child ReidExperiment.</summary>
[Description("Hyperparameter search (FastTune): each trial is a child ReidExperiment.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("Best", "number", ".status.bestTrial.objective")]
[PrinterColumn("Trials", "integer", ".status.trialsCompleted")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
[CelRule("size(self.metadata.name) <= 63", "metadata.name must be at most 63 characters: it is the value of the owner label (fastreid.io/<kind>) on its children")]
public sealed class TuneSweep : CustomResource<TuneSweepSpec, TuneSweepStatus>
{
    public override string Kind { get; set; } = ResourceKinds.TuneSweep.Kind;
}

/// <summary>One dimension of the search space, keyed by its FastReID config key.</summary>
[CelRule("!(self.type in ['uniform', 'loguniform', 'quniform', 'randint']) || (has(self.min) && has(self.max) && self.min < self.max)", "min and max are required and min < max")]
[CelRule("self.type != 'choice' || (has(self.values) && size(self.values) > 0)", "choice needs a non-empty values list")]
[CelRule("self.type != 'fixed' || (has(self.values) && size(self.values) == 1)", "fixed needs exactly one value in values")]
public sealed class SearchParameter
{
    [Required, MaxLength(16), AllowedValues("uniform", "loguniform", "quniform", "randint", "choice", "fixed"), Description("Distribution; fixed sets one value (values: [X]) in every trial.")]
    public string Type { get; set; } = "";
    [Description("Lower bound (uniform, loguniform, quniform, randint).")]
    public double? Min { get; set; }
    [Description("Upper bound (uniform, loguniform, quniform, randint).")]
    public double? Max { get; set; }
    [Range(0.0, 1.0e9, MinimumIsExclusive = true), Description("Quantisation step (quniform).")]
    public double? Step { get; set; }
    [PreserveUnknownFields, MaxLength(1000), Description("Candidates (choice), or the one value (fixed).")]
    public List<JsonNode?>? Values { get; set; }
}

public sealed class ObjectiveSpec
{
    [AllowedValues("score", "mAP", "rank1", "rank5", "rank10", "mINP"), Description("Metric to optimise; score = (mAP + rank1) / 2 as in FastTune.")]
    public string Metric { get; set; } = "score";
    [AllowedValues("maximize", "minimize"), Description("Direction.")]
    public string Goal { get; set; } = "maximize";
}

public sealed class AlgorithmSpec
{
    [AllowedValues("random", "grid", "tpe", "hyperband", "bohb", "asha", "dehb", "median"), Description("Search algorithm.")]
    public string Name { get; set; } = "random";
    [Description("Random seed.")]
    public int Seed { get; set; } = 1;
    [Description("Settings of the algorithm; each applies to the algorithms its description names, and the operator refuses one that does not apply.")]
    public AlgorithmSettings? Settings { get; set; }
}

/// <summary>
/// The algorithms' settings, all optional (the default of each is in its description, and depends on nothing but
/// the algorithm). Unknown fields are kept by the API server (not pruned) so that the operator can name a
/// misspelled setting instead of silently ignoring it: they land in <see cref="Unknown"/>.
/// </summary>
[PreserveUnknownFields]
public sealed class AlgorithmSettings
{
    [Range(2, 100), Description("hyperband, bohb, asha, dehb: reduction factor; each rung keeps the best 1/eta of its trials and gives them eta times the budget. Default 3.")]
    public int? Eta { get; set; }
    [Range(0.0, 1.0e9, MinimumIsExclusive = true), Description("hyperband, bohb, asha, dehb: the smallest budget a trial gets (ASHA's grace period). Default 1.")]
    public double? MinBudget { get; set; }
    [Range(0.0, 1.0e9, MinimumIsExclusive = true), Description("hyperband, bohb, asha, dehb: the largest budget a trial gets; more than minBudget. Default 9.")]
    public double? MaxBudget { get; set; }
    [Range(2, 1000), Description("grid: values per continuous dimension (uniform, loguniform), evenly spaced from min to max. Default 3.")]
    public int? GridPoints { get; set; }
    [Range(1, 10000), Description("tpe: trials drawn at random before the model is used. Default 10.")]
    public int? StartupTrials { get; set; }
    [Range(0.0, 1.0, MinimumIsExclusive = true, MaximumIsExclusive = true), Description("tpe: fraction of the finished trials (rounded up, at most 25) that form the good density l(x). Default 0.1, as Optuna's default_gamma.")]
    public double? Gamma { get; set; }
    [Range(1, 10000), Description("tpe: candidates drawn from l(x) per suggestion; the one with the largest l(x)/g(x) is tried. Default 24.")]
    public int? Candidates { get; set; }
    [Range(0.0, 1.0), Description("bohb: fraction of new configurations drawn at random instead of from the model. Default 0.333.")]
    public double? RandomFraction { get; set; }
    [Range(1.0, 99.0), Description("bohb: percent of the results at a budget that form the good density. Default 15.")]
    public double? TopNPercent { get; set; }
    [Range(1.0, 100.0), Description("bohb: factor widening the good density's bandwidth when drawing candidates. Default 3.")]
    public double? BandwidthFactor { get; set; }
    [Range(0.0, 1.0, MinimumIsExclusive = true), Description("bohb: smallest kernel bandwidth (in the unit cube), which keeps exploring. Default 0.001.")]
    public double? MinBandwidth { get; set; }
    [Range(1, 10000), Description("bohb: candidates drawn per model-based suggestion. Default 64.")]
    public int? NumSamples { get; set; }
    [Range(2, 10000), Description("bohb: results a budget needs in each of the good and bad sets before it has a model; at least dimensions + 1. Default dimensions + 1.")]
    public int? MinPointsInModel { get; set; }
    [Range(0.0, 2.0, MinimumIsExclusive = true), Description("dehb: differential evolution's mutation factor F in the rand/1 mutant a + F (b - c). Default 0.5.")]
    public double? MutationFactor { get; set; }
    [Range(0.0, 1.0), Description("dehb: binomial crossover probability; each coordinate comes from the mutant with this probability (one always does), else from the target. Default 0.5.")]
    public double? CrossoverProb { get; set; }
    [Description("any algorithm (and the default of median): stop a running trial whose best reading is worse than the median of the other trials' running averages at the same step.")]
    public MedianStoppingSettings? MedianStopping { get; set; }

    /// <summary>Fields that are none of the above (the operator names them as errors).</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; set; }
}

/// <summary>The median stopping rule (Golovin et al. 2017, Google Vizier).</summary>
[PreserveUnknownFields]
public sealed class MedianStoppingSettings
{
    [Range(0.0, 1.0e9), Description("Readings before this step (in budget units, e.g. epochs) never stop a trial. Default 1.")]
    public double? GracePeriod { get; set; }
    [Range(1, 10000), Description("Other trials that must have reached the step before the median is trusted. Default 3.")]
    public int? MinTrials { get; set; }

    /// <summary>Fields that are neither of the above (the operator names them as errors).</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; set; }
}

public sealed class BudgetSpec
{
    [Required, Description("Config key that carries the trial budget, e.g. SOLVER.MAX_EPOCH.")]
    public string Key { get; set; } = "SOLVER.MAX_EPOCH";
}

public sealed class SweepValidationSpec
{
    [Range(0.0, 1.0, MinimumIsExclusive = true, MaximumIsExclusive = true), Description("Fraction of training identities held out to score trials; never the test set.")]
    public double IdentityFraction { get; set; } = 0.2;
}

[CelRule("self.maxFailedTrials <= self.maxTrials", "maxFailedTrials must not exceed maxTrials")]
public sealed class TuneSweepSpec
{
    [Required, Description("The ReidExperiment spec each trial starts from.")]
    public ReidExperimentSpec Template { get; set; } = new();
    [Required, MaxLength(64), Description("Search space by FastReID config key.")]
    public Dictionary<string, SearchParameter> SearchSpace { get; set; } = [];
    [Description("What to optimise.")]
    public ObjectiveSpec Objective { get; set; } = new();
    [Description("How to search.")]
    public AlgorithmSpec Algorithm { get; set; } = new();
    [Description("Budget key for multi-fidelity algorithms.")]
    public BudgetSpec? Budget { get; set; }
    [Description("Held-out validation split.")]
    public SweepValidationSpec Validation { get; set; } = new();
    [Range(1, 256), Description("Trials run at once.")]
    public int Parallelism { get; set; } = 1;
    [Range(1, 10000), Description("Most trials started.")]
    public int MaxTrials { get; set; } = 10;
    [Range(0, 10000), Description("Failed trials tolerated before the sweep fails.")]
    public int MaxFailedTrials { get; set; } = 3;
}

/// <summary>One budget a trial finished, before a promotion gave it a larger one (or its current one, last).</summary>
public sealed class TrialResult
{
    [Description("The budget (in units of spec.budget.key) the trial had finished.")] public double Budget { get; set; }
    [Description("The objective it reached there, on the validation split.")] public double Objective { get; set; }
}

public sealed class TrialStatus
{
    [Description("Child ReidExperiment name.")] public string Name { get; set; } = "";
    [Description("Trial number in start order (0, 1, ...), within this generation's search.")] public int? Id { get; set; }
    [PreserveUnknownFields, Description("Sampled parameters by config key.")] public JsonObject? Params { get; set; }
    [Description("Pending, Running, Succeeded, Failed or Stopped (ended early by the search, the sweep's end, or a new generation).")] public string? Phase { get; set; }
    [Description("Budget given to the trial (the value of spec.budget.key it trains to).")] public double? Budget { get; set; }
    [Description("Hyperband bracket of the trial (0 for algorithms without brackets).")] public int? Bracket { get; set; }
    [Description("Objective value at the trial's budget, on the validation split.")] public double? Objective { get; set; }
    [Description("Validation metrics of the trial at its budget.")] public ReidMetrics? Metrics { get; set; }
    [Description("The objective at every budget it finished, in order (a promoted trial resumes its checkpoint).")] public List<TrialResult>? Results { get; set; }
    [Description("Why the trial failed or stopped, or while it runs, why a pod of it cannot start.")] public string? Message { get; set; }
}

/// <summary>The incumbent, and its one evaluation on the real test set once the search has ended.</summary>
public sealed class BestTrialStatus
{
    [Description("Child ReidExperiment name of the best trial.")] public string Name { get; set; } = "";
    [Description("Trial number.")] public int? Id { get; set; }
    [PreserveUnknownFields, Description("Its parameters by config key.")] public JsonObject? Params { get; set; }
    [Description("The budget it was scored at.")] public double? Budget { get; set; }
    [Description("Its objective on the validation split (what the search optimised).")] public double? Objective { get; set; }
    [Description("Its validation metrics.")] public ReidMetrics? Metrics { get; set; }
    [Description("The ReidExperiment that trains the best configuration on every training identity and scores it on the test set.")] public string? TestExperiment { get; set; }
    [Description("The same objective on the test set, from the test experiment; reported apart from the validation objective.")] public double? TestObjective { get; set; }
    [Description("Test-set metrics of the test experiment.")] public ReidMetrics? TestMetrics { get; set; }
}

public sealed class TuneSweepStatus : ResourceStatus, IRunStatus
{
    [Description("This generation's search: the sweep's name and a digest of its uid and of what is searched (template, space, objective, algorithm, budget, validation). Trials of another search are history, never mixed in.")]
    public string? Search { get; set; }
    [Description("Every trial of this generation's search, by id.")] public List<TrialStatus>? Trials { get; set; }
    [Description("Trials finished (succeeded, failed or stopped).")] public int? TrialsCompleted { get; set; }
    [Description("The best finished trial, and its test-set score once the search has ended.")] public BestTrialStatus? BestTrial { get; set; }

    /// <summary>The run a status belongs to is this generation's search (a sweep runs no Job of its own).</summary>
    string? IRunStatus.JobName { get => Search; set => Search = value; }
}
