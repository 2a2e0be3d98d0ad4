using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;
using FastReid.Pipeline.Experiments;

namespace FastReid.Pipeline.Tune;

/// <summary>
/// The child ReidExperiments a TuneSweep owns. A <b>trial</b> is <c>spec.template</c> with its sampled values set
/// as config keys (nested inside the template's groups), the budget key set to the algorithm's budget (rounded for
/// an integer key; a budget &lt;= 0 keeps the template's), <c>DATASETS.VALIDATION.IDENTITY_FRACTION</c> from
/// <c>spec.validation.identityFraction</c> and <c>DATASETS.VALIDATION.SEED</c> = <c>spec.algorithm.seed</c> (so
/// every trial is scored on the same held-out identities, never on the test set), and its output under
/// <c>&lt;template output&gt;/trials/&lt;trial name&gt;</c>. It carries the <see cref="TrialRecord"/> and the
/// budget key annotation, so a promotion (a larger budget) keeps its trainer run id and resumes its checkpoint.
/// The <b>test run</b> is the best trial's configuration and budget with validation off
/// (<c>IDENTITY_FRACTION 0</c>): it trains on every training identity and scores once on the test set, under
/// <c>&lt;template output&gt;/test/&lt;name&gt;</c>.
/// </summary>
public static class TrialExperiment
{
    public const string IdentityFractionKey = "DATASETS.VALIDATION.IDENTITY_FRACTION";
    public const string ValidationSeedKey = "DATASETS.VALIDATION.SEED";

    /// <summary>The keys the operator sets in every trial, each with the field of the sweep that says it.</summary>
    public static readonly IReadOnlyList<(string Key, string From)> OwnedKeys =
    [
        (IdentityFractionKey, "spec.validation.identityFraction"),
        (ValidationSeedKey, "spec.algorithm.seed"),
    ];

    /// <summary>The config key that carries a trial's budget: <c>spec.budget.key</c>, SOLVER.MAX_EPOCH without one.</summary>
    public static string BudgetKey(TuneSweepSpec spec) => spec.Budget?.Key ?? BudgetKeys.MaxEpoch.Key;

    /// <summary>
    /// Every problem of the sweep, each naming its field: the API rules, the search space (keys the config schema
    /// does not know, types that do not fit), the algorithm and its settings, the budget key, the keys the operator
    /// owns, and whatever a trial's own controller would refuse of the template (config keys, output, rendered
    /// size), named under <c>spec.template</c>. The search space and algorithm are returned when valid.
    /// </summary>
    public static List<FieldError> Validate(TuneSweep sweep, PlannerOptions options, TuneSweepPlanner.AlgorithmFactory algorithms, out SearchSpace? space, out ISearchAlgorithm? algorithm)
    {
        var spec = sweep.Spec;
        var errors = new List<FieldError>(Validation.Validate(sweep));
        space = SearchSpace.Parse(spec.SearchSpace, errors);
        algorithm = space is null ? null : algorithms(spec, space, errors);
        var budgetKey = BudgetKey(spec);
        if (BudgetKeys.Find(budgetKey) is null)
            errors.Add(new("spec.budget.key", $"'{budgetKey}' cannot carry a training budget (known: {string.Join(", ", BudgetKeys.All.Select(b => b.Key))})"));
        var config = spec.Template.Config ?? [];
        foreach (var (key, from) in OwnedKeys.Where(k => SpecConfig.Sets(config, k.Key)))
            errors.Add(new($"spec.template.config.{key}", $"is set by the operator from {from}; remove it from the config"));

        var search = TrialNames.Search(sweep);
        DerivedNames.CheckOwnerLabel(errors, sweep);
        DerivedNames.Check(errors, "metadata.name", sweep.Metadata.Name, $"the name of trial {spec.MaxTrials - 1}", TrialNames.TrialName(sweep.Metadata.Name, search, spec.MaxTrials - 1));
        DerivedNames.Check(errors, "metadata.name", sweep.Metadata.Name, "the test run's name", TrialNames.TestName(sweep.Metadata.Name, search));
        var asTrial = new ReidExperiment
        {
            Metadata = new ObjectMeta { Name = TrialNames.TrialName(sweep.Metadata.Name, search, 0), Namespace = sweep.Metadata.Namespace, Uid = sweep.Metadata.Uid },
            Spec = spec.Template,
        };
        var templateErrors = new List<FieldError>();
        ReidExperimentPlanner.Resolve(asTrial, options, templateErrors);
        errors.AddRange(templateErrors.Select(e => e with { Path = e.Path.StartsWith("spec.", StringComparison.Ordinal) ? "spec.template." + e.Path[5..] : e.Path }));
        return errors;
    }

    /// <summary>The template's own value of the budget key (what a trial with budget &lt;= 0 trains to).</summary>
    public static double TemplateBudget(TuneSweepSpec spec)
    {
        var config = FastReidConfig.Defaults();
        config.MergeTree(ConfigTree.FromJson(spec.Template.Config ?? [], "spec.template.config"), "spec.template.config");
        return Convert.ToDouble(config[BudgetKey(spec)], CultureInfo.InvariantCulture);
    }

    /// <summary>Trial <paramref name="record"/>.Id of the search: named, labelled, annotated and owned by the sweep.</summary>
    public static ReidExperiment Trial(TuneSweep sweep, string search, TrialRecord record)
    {
        var name = TrialNames.TrialName(sweep.Metadata.Name, search, record.Id);
        var spec = CopyTemplate(sweep, "trials/" + name);
        var config = spec.Config!;
        foreach (var (key, value) in record.Params) SpecConfig.Set(config, key, value?.DeepClone());
        var budgetKey = BudgetKey(sweep.Spec);
        if (record.Budget > 0) SpecConfig.Set(config, budgetKey, BudgetValue(budgetKey, record.Budget));
        SpecConfig.Set(config, IdentityFractionKey, sweep.Spec.Validation.IdentityFraction);
        SpecConfig.Set(config, ValidationSeedKey, sweep.Spec.Algorithm.Seed);
        return Child(sweep, search, name, spec, new()
        {
            [TrialNames.TrialAnnotation] = record.ToJson(),
            [ExperimentNames.BudgetKeyAnnotation] = budgetKey,
        });
    }

    /// <summary>The test-set run of the search's best trial: its values and budget, validation off.</summary>
    public static ReidExperiment TestRun(TuneSweep sweep, string search, TrialRecord best)
    {
        var name = TrialNames.TestName(sweep.Metadata.Name, search);
        var spec = CopyTemplate(sweep, "test/" + name);
        var config = spec.Config!;
        foreach (var (key, value) in best.Params) SpecConfig.Set(config, key, value?.DeepClone());
        var budgetKey = BudgetKey(sweep.Spec);
        if (best.Budget > 0) SpecConfig.Set(config, budgetKey, BudgetValue(budgetKey, best.Budget));
        SpecConfig.Set(config, IdentityFractionKey, 0.0);
        return Child(sweep, search, name, spec, new() { [TrialNames.TestRunAnnotation] = best.Id.ToString(CultureInfo.InvariantCulture) });
    }

    /// <summary>A budget as the key's kind wants it: an integer key (epochs) gets the rounded budget, at least 1.</summary>
    public static JsonNode BudgetValue(string key, double budget) =>
        ConfigSchema.Find(key)?.Kind == ConfigValueKind.Int ? JsonValue.Create(Math.Max(1L, (long)Math.Round(budget))) : JsonValue.Create(budget);

    /// <summary>A copy of the template (the planner's input stays as it was) writing under <paramref name="under"/> of the template's output.</summary>
    private static ReidExperimentSpec CopyTemplate(TuneSweep sweep, string under)
    {
        var spec = ApiJson.Deserialize<ReidExperimentSpec>(ApiJson.Serialize(sweep.Spec.Template));
        spec.Config ??= [];
        // Without an output of its own the child gets the operator's default storage under its own name.
        if (spec.Output is { } output) output.Uri = $"{output.Uri.TrimEnd('/')}/{under}";
        return spec;
    }

    private static ReidExperiment Child(TuneSweep sweep, string search, string name, ReidExperimentSpec spec, Dictionary<string, string> annotations) => new()
    {
        Metadata = new ObjectMeta
        {
            Name = name,
            Namespace = sweep.Metadata.Namespace,
            Labels = TrialNames.Labels(sweep, search),
            Annotations = annotations,
            OwnerReferences = [ChildObjects.CustomOwnerReference(sweep)],
        },
        Spec = spec,
    };

    /// <summary>An observed child with its pods stopped for good: suspended, and marked with why (its record and checkpoints stay).</summary>
    public static ReidExperiment Stopped(ReidExperiment child, string reason)
    {
        var copy = ApiJson.Deserialize<ReidExperiment>(ApiJson.Serialize(child));
        copy.Status = null;
        copy.Spec.RunPolicy.Suspend = true;
        copy.Metadata.Annotations ??= [];
        copy.Metadata.Annotations[TrialNames.StoppedAnnotation] = reason;
        return copy;
    }
}
