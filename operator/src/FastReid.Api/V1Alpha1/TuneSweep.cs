using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;

namespace FastReid.Api.V1Alpha1;

/// <summary>Hyperparameter search (FastTune): each trial is a child ReidExperiment.</summary>
[Description("Hyperparameter search (FastTune): each trial is a child ReidExperiment.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("Best", "number", ".status.bestTrial.objective")]
[PrinterColumn("Trials", "integer", ".status.trialsCompleted")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
public sealed class TuneSweep : CustomResource<TuneSweepSpec, TuneSweepStatus>
{
    public override string Kind { get; set; } = ResourceKinds.TuneSweep.Kind;
}

/// <summary>One dimension of the search space, keyed by its FastReID config key.</summary>
[CelRule("!(self.type in ['uniform', 'loguniform', 'quniform', 'randint']) || (has(self.min) && has(self.max) && self.min < self.max)", "min and max are required and min < max")]
[CelRule("self.type != 'choice' || (has(self.values) && size(self.values) > 0)", "choice needs a non-empty values list")]
public sealed class SearchParameter
{
    [Required, MaxLength(16), AllowedValues("uniform", "loguniform", "quniform", "randint", "choice"), Description("Distribution.")]
    public string Type { get; set; } = "";
    [Description("Lower bound (uniform, loguniform, quniform, randint).")]
    public double? Min { get; set; }
    [Description("Upper bound (uniform, loguniform, quniform, randint).")]
    public double? Max { get; set; }
    [Range(0.0, 1.0e9, MinimumIsExclusive = true), Description("Quantisation step (quniform).")]
    public double? Step { get; set; }
    [PreserveUnknownFields, MaxLength(1000), Description("Candidates (choice).")]
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
    [AllowedValues("random", "grid", "tpe", "hyperband", "bohb", "asha", "median"), Description("Search algorithm.")]
    public string Name { get; set; } = "random";
    [Description("Random seed.")]
    public int Seed { get; set; } = 1;
    [PreserveUnknownFields, Description("Algorithm settings (eta, minBudget, maxBudget, ...).")]
    public JsonObject? Settings { get; set; }
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

public sealed class TrialStatus
{
    [Description("Child ReidExperiment name.")] public string Name { get; set; } = "";
    [PreserveUnknownFields, Description("Sampled parameters by config key.")] public JsonObject? Params { get; set; }
    [Description("Phase of the trial.")] public string? Phase { get; set; }
    [Description("Budget given to the trial.")] public double? Budget { get; set; }
    [Description("Objective value.")] public double? Objective { get; set; }
    [Description("Metrics of the trial.")] public ReidMetrics? Metrics { get; set; }
}

public sealed class TuneSweepStatus : ResourceStatus
{
    [Description("Every trial started.")] public List<TrialStatus>? Trials { get; set; }
    [Description("Trials finished.")] public int? TrialsCompleted { get; set; }
    [Description("The best finished trial.")] public TrialStatus? BestTrial { get; set; }
}
