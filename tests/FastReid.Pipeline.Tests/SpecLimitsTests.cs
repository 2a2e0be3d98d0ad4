using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Distill;
using FastReid.Pipeline.Exports;
using FastReid.Pipeline.Tune;

namespace FastReid.Pipeline.Tests;

/// <summary>
/// What the API server or the trainer would refuse is InvalidSpec before anything is made: names derived past
/// Kubernetes' limits, and values out of the trainer's ranges (synthetic identities, image sizes, epochs, seeds).
/// </summary>
public class SpecLimitsTests
{
    private static readonly string LongName = "market-" + new string('x', 63);   // 70 characters: a valid DNS subdomain

    private static ReidExperimentSpec Template() => new()
    {
        Dataset = new DatasetSpec { Name = "Market1501", Uri = "s3://datasets/market1501" },
        Output = new OutputSpec { Uri = "s3://models/m" },
    };

    private static ObjectMeta Meta(string name) => new() { Name = name, Namespace = "team-a", Uid = "uid", Generation = 1 };

    private static Condition AssertInvalid<TStatus>(Plan<TStatus> plan) where TStatus : ResourceStatus
    {
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var invalid = Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec)!;
        Assert.Equal("True", invalid.Status);
        return invalid;
    }

    [Fact]
    public void A_sweep_name_too_long_for_its_trials_label_is_invalid_naming_the_label_and_the_limit()
    {
        var sweep = new TuneSweep
        {
            Metadata = Meta(LongName),
            Spec = new TuneSweepSpec { Template = Template(), SearchSpace = new() { ["SOLVER.BASE_LR"] = new SearchParameter { Type = "loguniform", Min = 1e-5, Max = 1e-3 } } },
        };
        var invalid = AssertInvalid(TuneSweepPlanner.Plan(sweep, ObservedChildren.None(Fixtures.T0), _ => null));
        Assert.Contains($"metadata.name: '{LongName}' makes the value of label fastreid.io/sweep on its children '{LongName}' of 70 characters; at most 63", invalid.Message);
    }

    [Fact]
    public void A_distill_job_name_too_long_for_its_students_label_is_invalid()
    {
        var job = new DistillJob
        {
            Metadata = Meta(LongName),
            Spec = new DistillJobSpec { Teachers = [new ModelSource { ModelUri = "s3://m/model.pt", ConfigUri = "s3://m/config.yaml" }], Student = Template() },
        };
        var invalid = AssertInvalid(DistillJobPlanner.Plan(job, ObservedChildren.None(Fixtures.T0), _ => null));
        Assert.Contains("makes the value of label fastreid.io/distilljob on its children", invalid.Message);
        Assert.Contains("of 70 characters; at most 63", invalid.Message);
    }

    [Fact]
    public void An_export_job_name_too_long_for_its_jobs_label_is_invalid()
    {
        var export = new ExportJob
        {
            Metadata = Meta(LongName),
            Spec = new ExportJobSpec { Source = new ModelSource { ModelUri = "s3://m/model.pt", ConfigUri = "s3://m/config.yaml" }, Output = new OutputSpec { Uri = "s3://m/export" } },
        };
        var invalid = AssertInvalid(ExportJobPlanner.Plan(export, ObservedChildren.None(Fixtures.T0), null));
        Assert.Contains("makes the value of label fastreid.io/export on its children", invalid.Message);
    }

    [Fact]
    public void Names_within_the_limits_are_not_refused()
    {
        var name = new string('a', 63);
        var export = new ExportJob
        {
            Metadata = Meta(name),
            Spec = new ExportJobSpec { Source = new ModelSource { ModelUri = "s3://m/model.pt", ConfigUri = "s3://m/config.yaml" }, Output = new OutputSpec { Uri = "s3://m/export" } },
        };
        var plan = ExportJobPlanner.Plan(export, ObservedChildren.None(Fixtures.T0), null);
        Assert.Null(Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } c ? c : null);
        Assert.True(ExportNames.JobName(export).Length <= DerivedNames.MaxLabel);
        Assert.True(DistillNames.StudentName(name).Length <= DerivedNames.MaxLabel);
        Assert.True(TrialNames.TrialName(name, "0123456789", 9999).Length <= DerivedNames.MaxLabel);
    }

    [Theory]
    [InlineData("""{"SOLVER":{"MAX_EPOCH":3000000000}}""", "spec.config.SOLVER.MAX_EPOCH", "must be from 1 to 2147483647 (got 3000000000)")]
    [InlineData("""{"SOLVER":{"MAX_EPOCH":0}}""", "spec.config.SOLVER.MAX_EPOCH", "must be from 1 to 2147483647 (got 0)")]
    [InlineData("""{"SEED":10000000000}""", "spec.config.SEED", "must be from -1 to 2147483647 (got 10000000000)")]
    [InlineData("""{"INPUT":{"SIZE_TRAIN":[8,128]}}""", "spec.config.INPUT.SIZE_TRAIN", "must be from 16 to 1024 (got 8 in [8, 128])")]
    [InlineData("""{"INPUT":{"SIZE_TEST":[256]}}""", "spec.config.INPUT.SIZE_TEST", "expects 2 values, got 1 ([256])")]
    [InlineData("""{"SOLVER":{"IMS_PER_BATCH":1}}""", "spec.config.SOLVER.IMS_PER_BATCH", "must be from 2 to 4096 (got 1)")]
    [InlineData("""{"KD":{"TEMPERATURE":0}}""", "spec.config.KD.TEMPERATURE", "must be above 0 (got 0)")]
    public void A_config_value_the_trainer_refuses_is_invalid_naming_the_key_and_the_range(string config, string path, string message)
    {
        var e = Fixtures.Experiment();
        e.Spec.Config = JsonNode.Parse(config)!.AsObject();
        var invalid = AssertInvalid(Fixtures.Plan(e));
        Assert.Contains($"{path}: ", invalid.Message);
        Assert.Contains(message, invalid.Message);
    }

    [Theory]
    [InlineData(2000, 16, "spec.dataset.synthetic.identities: must be in [4, 1500], got 2000")]
    [InlineData(120, 1, "spec.dataset.synthetic.trainImages: must be in [2, 1000], got 1")]
    public void Synthetic_sets_fastreid_data_synth_refuses_are_invalid(int identities, int trainImages, string message)
    {
        var e = Fixtures.Experiment();
        e.Spec.Dataset = new DatasetSpec { Name = "Synthetic", Synthetic = new SyntheticDatasetSpec { Identities = identities, TrainImages = trainImages } };
        Assert.Equal(message, AssertInvalid(Fixtures.Plan(e)).Message);
    }

    [Fact]
    public void A_search_dimension_reaching_outside_the_keys_range_is_invalid()
    {
        var errors = new List<FieldError>();
        Assert.Null(SearchSpace.Parse(new Dictionary<string, SearchParameter>
        {
            ["SOLVER.IMS_PER_BATCH"] = new SearchParameter { Type = "randint", Min = 1, Max = 256 },
        }, errors));
        var error = Assert.Single(errors);
        Assert.Equal(("spec.searchSpace[\"SOLVER.IMS_PER_BATCH\"].min", "SOLVER.IMS_PER_BATCH must be from 2 to 4096, got 1"), (error.Path, error.Message));
    }
}
