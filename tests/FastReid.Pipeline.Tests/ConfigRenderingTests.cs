using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public class ConfigRenderingTests
{
    private static FastReid.Config.FastReidConfig Effective(ReidExperiment e, List<FieldError>? errors = null) =>
        SpecConfig.Effective(e.Spec, "s3://models/market-r50", "spec", errors ?? []) ?? throw new Xunit.Sdk.XunitException("no config");

    [Fact]
    public void The_effective_config_is_defaults_then_spec_config_then_what_the_operator_owns()
    {
        var errors = new List<FieldError>();
        var config = Effective(Experiment(gpus: 4), errors);
        Assert.Empty(errors);
        Assert.Equal("s3://models/market-r50", config.String("OUTPUT_DIR"));
        Assert.Equal(["Market1501"], config.Strings("DATASETS.NAMES"));
        Assert.Equal(["Market1501"], config.Strings("DATASETS.TESTS"));
        Assert.Equal("cuda", config.String("MODEL.DEVICE"));
        Assert.Equal(0.00035, config.Float("SOLVER.BASE_LR"));
        Assert.Equal(60, config.Int("SOLVER.MAX_EPOCH"));
        Assert.Equal(64, config.Int("SOLVER.IMS_PER_BATCH")); // a FastReID default nobody set
    }

    [Fact]
    public void The_config_map_holds_the_yaml_the_trainer_loads()
    {
        var e = Experiment(gpus: 0);
        var yaml = Plan(e).Actions.Cast<CreateChild>().Select(c => c.Object).OfType<k8s.Models.V1ConfigMap>().Single().Data["config.yaml"];
        var loaded = FastReid.Config.FastReidConfig.Defaults();
        loaded.MergeTree(FastReid.Config.ConfigTree.FromYaml(yaml, "config.yaml"), "config.yaml");
        Assert.Equal(Effective(e).ToYaml(), loaded.ToYaml());
        Assert.Equal("cpu", loaded.String("MODEL.DEVICE"));
        Assert.Equal("50x", loaded.String("MODEL.BACKBONE.DEPTH"));
    }

    [Fact]
    public void User_choices_for_datasets_and_device_are_kept_nested_or_dotted()
    {
        var e = Experiment(gpus: 4);
        e.Spec.Config!["MODEL"]!["DEVICE"] = "cpu";
        e.Spec.Config["DATASETS.TESTS"] = new JsonArray("Market1501", "DukeMTMC");
        var config = Effective(e);
        Assert.Equal("cpu", config.String("MODEL.DEVICE"));
        Assert.Equal(["Market1501", "DukeMTMC"], config.Strings("DATASETS.TESTS"));
        Assert.Equal(["Market1501"], config.Strings("DATASETS.NAMES"));
    }

    [Fact]
    public void A_synthetic_dataset_trains_as_market1501()
    {
        var e = Experiment();
        e.Spec.Dataset = new DatasetSpec { Name = "Synthetic" };
        Assert.Equal(["Market1501"], Effective(e).Strings("DATASETS.NAMES"));
    }

    [Fact]
    public void Unknown_keys_are_named_with_the_closest_valid_one()
    {
        var config = new JsonObject
        {
            ["MODEL"] = new JsonObject { ["BACKBONE"] = new JsonObject { ["DEPT"] = "50x", ["DEPTH"] = "50x" } },
            ["SOLVER"] = new JsonObject { ["BASE_LR"] = "fast", ["MAX_EPOCH"] = 10 },
            ["MODLE"] = new JsonObject { ["X"] = 1, ["Y"] = 2 },
            ["INPUT"] = new JsonObject { ["CROP"] = new JsonObject { ["ENABLED"] = true } },
        };
        var errors = SpecConfig.Validate(config, "spec.config").Select(e => e.ToString()).ToList();
        Assert.Equal(4, errors.Count);
        Assert.Contains("spec.config.MODEL.BACKBONE.DEPT: unknown config key MODEL.BACKBONE.DEPT (did you mean MODEL.BACKBONE.DEPTH?)", errors);
        Assert.Contains(errors, e => e.StartsWith("spec.config.SOLVER.BASE_LR: SOLVER.BASE_LR: expected a number, got 'fast'"));
        Assert.Contains(errors, e => e.StartsWith("spec.config.MODLE: unknown config key MODLE"));
        Assert.Contains(errors, e => e.StartsWith("spec.config.INPUT.CROP.ENABLED:") && e.Contains("does not support yet"));
    }

    [Fact]
    public void A_valid_config_has_no_errors()
    {
        Assert.Empty(SpecConfig.Validate(Experiment().Spec.Config!, "spec.config"));
        Assert.Empty(SpecConfig.Validate(new JsonObject { ["INPUT.SIZE_TRAIN"] = new JsonArray(256, 128), ["TEST"] = new JsonObject { ["FLIP"] = new JsonObject { ["ENABLED"] = true } } }, "spec.config"));
    }

    [Fact]
    public void Base_inheritance_is_named_as_unsupported_in_a_resource()
    {
        var error = Assert.Single(SpecConfig.Validate(new JsonObject { ["_BASE_"] = "../Base-bagtricks.yml" }, "spec.config"));
        Assert.Equal("spec.config._BASE_", error.Path);
        Assert.Contains("write the keys out", error.Message);
    }

    [Fact]
    public void Setting_a_value_key_to_a_mapping_is_named()
    {
        var errors = SpecConfig.Validate(new JsonObject { ["MODEL"] = new JsonObject { ["DEVICE"] = new JsonObject { ["X"] = 1 } } }, "spec.config");
        Assert.Equal("spec.config.MODEL.DEVICE", Assert.Single(errors).Path);
    }

    [Fact]
    public void Sets_sees_nested_dotted_and_mixed_keys()
    {
        var tree = new JsonObject { ["MODEL"] = new JsonObject { ["BACKBONE.DEPTH"] = "50x" }, ["SOLVER.BASE_LR"] = 1 };
        Assert.True(SpecConfig.Sets(tree, "MODEL.BACKBONE.DEPTH"));
        Assert.True(SpecConfig.Sets(tree, "SOLVER.BASE_LR"));
        Assert.False(SpecConfig.Sets(tree, "MODEL.DEVICE"));
    }

    [Fact]
    public void Only_the_contracts_metric_names_are_read()
    {
        // FastReID's own spellings (Rank-1) never shipped in a result: the contract type names each field once
        var result = TrainerResult.TryParse("""{"metrics": {"Rank-1": 94.2, "rank1": 0.942, "mAP": 0.861}}""", out var error);
        Assert.Null(error);
        Assert.Equal((0.942, 0.861), (result!.Metrics.Rank1, result.Metrics.MAP));
    }

    [Fact]
    public void The_trainers_result_json_is_read_whole()
    {
        var result = TrainerResult.TryParse(ResultJson, out var error);
        Assert.Null(error);
        Assert.Equal(60, result!.BudgetUsed);
        Assert.Equal("s3://models/market-r50/manifest.json", result.Artefacts.Manifest);
        Assert.Equal(["config.yaml", "model_final.pth"], result.Artefacts.Sha256!.Keys);
    }

    [Theory]
    [InlineData(null, "no termination message")]
    [InlineData("Traceback: boom", "not result JSON")]
    [InlineData("[1, 2]", "not result JSON")]
    public void Unreadable_results_explain_themselves(string? message, string expected)
    {
        Assert.Null(TrainerResult.TryParse(message, out var error));
        Assert.Contains(expected, error);
    }
}
