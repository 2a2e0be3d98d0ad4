using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;
using FastReid.Data.Synth;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Tune;

namespace FastReid.Cli.Tune;

/// <summary>
/// What a training trial runs with: the template's effective config as the operator renders it for a child
/// ReidExperiment (<see cref="SpecConfig.Effective"/>, with the trial folder as OUTPUT_DIR), then the sampled
/// values, the budget key and the validation split; and where its dataset is.
/// </summary>
internal static class TrialConfig
{
    public const string IdentityFractionKey = "DATASETS.VALIDATION.IDENTITY_FRACTION";
    public const string ValidationSeedKey = "DATASETS.VALIDATION.SEED";

    public static string BudgetKey(TuneSweepSpec spec) => spec.Budget?.Key ?? BudgetKeys.MaxEpoch.Key;

    /// <summary>The budget of a trial whose suggestion gives none: the template's value of the budget key.</summary>
    public static double TemplateBudget(TuneSweepSpec spec)
    {
        var config = Effective(spec, "/", "spec.template");
        return Convert.ToDouble(config[BudgetKey(spec)], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The config YAML of a trial rung: <paramref name="identityFraction"/> 0 turns the validation split off (the
    /// final run of the best configuration, scored on the test set).
    /// </summary>
    public static string Render(TuneSweepSpec spec, TrialParams values, double budget, string outputDir, double identityFraction)
    {
        var config = Effective(spec, outputDir, "spec.template");
        var overrides = values.ToJson();
        var budgetKey = BudgetKey(spec);
        overrides[budgetKey] = ConfigSchema.Find(budgetKey)?.Kind == ConfigValueKind.Int
            ? JsonValue.Create((long)Math.Round(budget))
            : JsonValue.Create(budget);
        overrides[IdentityFractionKey] = identityFraction;
        overrides[ValidationSeedKey] = spec.Algorithm.Seed;
        try
        {
            config.MergeTree(ConfigTree.FromJson(overrides, "trial"), "trial");
        }
        catch (ConfigException e)
        {
            throw new FastReidException($"the trial's values do not fit the config: {e.Message}", e);
        }
        return config.ToYaml();
    }

    private static FastReidConfig Effective(TuneSweepSpec spec, string outputDir, string path)
    {
        var errors = new List<FieldError>();
        return SpecConfig.Effective(spec.Template, outputDir, path, errors)
            ?? throw new FastReidException($"the template's config does not load: {string.Join("; ", errors)}");
    }

    /// <summary>
    /// The environment that points a trial at its dataset: Synthetic is written once into <paramref name="dataDir"/>
    /// (as the operator's synth init container writes it); a local path is used as it is; an s3:// root is
    /// fetched by the trainer into <paramref name="dataDir"/> with the credentials in this environment.
    /// </summary>
    public static Dictionary<string, string> DatasetEnv(DatasetSpec dataset, string dataDir, Action<string> log)
    {
        switch (dataset.Uri)
        {
            case null:
                var synthetic = dataset.Synthetic ?? new SyntheticDatasetSpec();
                if (!Directory.Exists(Path.Combine(dataDir, SyntheticMarket.Folder)))
                {
                    log($"writing the Synthetic dataset ({synthetic.Identities} identities, seed {synthetic.Seed}) to {dataDir}");
                    // Write stages the set and renames it into place last, so a folder that exists is complete
                    SyntheticMarket.Write(dataDir, new SynthOptions(Identities: synthetic.Identities, Cameras: synthetic.Cameras,
                        Seed: synthetic.Seed, TrainImagesPerIdentity: synthetic.TrainImages));
                }
                return new() { ["FASTREID_DATASETS"] = dataDir };
            case var s3 when s3.StartsWith("s3://", StringComparison.Ordinal):
                return new() { ["FASTREID_DATASETS"] = dataDir, ["FASTREID_DATASET_URI"] = s3 };
            case var local:
                return new() { ["FASTREID_DATASETS"] = local.StartsWith("file://", StringComparison.Ordinal) ? local["file://".Length..] : local };
        }
    }
}
