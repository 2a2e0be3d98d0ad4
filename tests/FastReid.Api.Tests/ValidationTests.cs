using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Api.Tests;

public class ValidationTests
{
    private static ReidExperiment Valid() => new()
    {
        Metadata = new ObjectMeta { Name = "exp1", Namespace = "ns", Uid = "u" },
        Spec = new ReidExperimentSpec
        {
            Dataset = new DatasetSpec { Name = "Market1501", Uri = "s3://datasets/market1501" },
            Resources = new ResourcesSpec { Nodes = 2, GpusPerNode = 4, Cpu = "8", Memory = "32Gi" },
            Output = new OutputSpec { Uri = "s3://models/exp1", Endpoint = "http://minio:9000", SecretRef = new SecretReference { Name = "s3-creds" } },
        },
    };

    private static FieldError Single(IReadOnlyList<FieldError> errors)
    {
        Assert.True(errors.Count == 1, "expected one error, got: " + string.Join(" | ", errors));
        return errors[0];
    }

    [Fact]
    public void A_complete_experiment_is_valid() => Assert.Empty(Validation.Validate(Valid()));

    [Theory]
    [InlineData(0, "must be in [1, 256], got 0")]
    [InlineData(-3, "must be in [1, 256], got -3")]
    public void Nodes_below_one_name_the_field(int nodes, string message)
    {
        var e = Valid();
        e.Spec.Resources.Nodes = nodes;
        var error = Single(Validation.Validate(e));
        Assert.Equal("spec.resources.nodes", error.Path);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("8 cores", "spec.resources.cpu")]
    [InlineData("0", "spec.resources.cpu")]
    public void Cpu_must_be_a_positive_quantity(string cpu, string path)
    {
        var e = Valid();
        e.Spec.Resources.Cpu = cpu;
        Assert.Equal(path, Single(Validation.Validate(e)).Path);
    }

    [Fact]
    public void Memory_in_bytes_with_a_wrong_suffix_is_named()
    {
        var e = Valid();
        e.Spec.Resources.Memory = "32GB";
        var error = Single(Validation.Validate(e));
        Assert.Equal("spec.resources.memory", error.Path);
        Assert.Contains("'32GB' is not a Kubernetes quantity", error.Message);
    }

    [Theory]
    [InlineData("http://bucket/models")]
    [InlineData("models/exp1")]
    [InlineData("s3:///nobucket")]
    [InlineData("file://relative")]
    [InlineData("pvc://Models/exp1")]
    [InlineData("pvc://models/../exp1")]
    public void Output_uri_is_s3_a_claim_or_an_absolute_path(string uri)
    {
        var e = Valid();
        e.Spec.Output = new OutputSpec { Uri = uri };
        Assert.Equal("spec.output.uri", Single(Validation.Validate(e)).Path);
    }

    [Theory]
    [InlineData("/data/models/exp1")]
    [InlineData("file:///data/models/exp1")]
    [InlineData("s3://models")]
    [InlineData("pvc://models")]
    [InlineData("pvc://reid.models-1/exp1/")]
    public void File_paths_buckets_and_claims_are_accepted(string uri)
    {
        var e = Valid();
        e.Spec.Output = new OutputSpec { Uri = uri, Endpoint = uri.StartsWith("s3") ? "https://s3.local" : null };
        Assert.Empty(Validation.Validate(e));
    }

    [Fact]
    public void Credentials_in_the_endpoint_are_refused()
    {
        var e = Valid();
        e.Spec.Output!.Endpoint = "http://admin:secret@minio:9000";
        var error = Single(Validation.Validate(e));
        Assert.Equal("spec.output.endpoint", error.Path);
        Assert.Contains("secretRef", error.Message);
    }

    [Fact]
    public void A_secret_reference_needs_an_s3_output()
    {
        var e = Valid();
        e.Spec.Output = new OutputSpec { Uri = "/data/out", SecretRef = new SecretReference { Name = "s3-creds" } };
        Assert.Equal("spec.output.secretRef", Single(Validation.Validate(e)).Path);
    }

    [Fact]
    public void A_secret_name_must_be_a_kubernetes_name()
    {
        var e = Valid();
        e.Spec.Output!.SecretRef!.Name = "S3_Creds";
        Assert.Equal("spec.output.secretRef.name", Single(Validation.Validate(e)).Path);
    }

    [Fact]
    public void Real_datasets_need_a_uri_synthetic_does_not()
    {
        var e = Valid();
        e.Spec.Dataset = new DatasetSpec { Name = "DukeMTMC" };
        Assert.Equal("spec.dataset.uri", Single(Validation.Validate(e)).Path);
        e.Spec.Dataset = new DatasetSpec { Name = "Synthetic", Synthetic = new SyntheticDatasetSpec() };
        Assert.Empty(Validation.Validate(e));
    }

    [Theory]
    [InlineData("Exp1")]
    [InlineData("exp.1")]
    [InlineData("-exp")]
    public void Experiment_names_are_dns_labels(string name)
    {
        var e = Valid();
        e.Metadata.Name = name;
        Assert.Equal("metadata.name", Single(Validation.Validate(e)).Path);
    }

    [Fact]
    public void Every_error_is_reported_not_just_the_first()
    {
        var e = Valid();
        e.Spec.Resources.Nodes = 0;
        e.Spec.Resources.GpusPerNode = 99;
        e.Spec.RunPolicy.BackoffLimit = -1;
        var paths = Validation.Validate(e).Select(x => x.Path).ToHashSet();
        Assert.Equal(["spec.resources.gpusPerNode", "spec.resources.nodes", "spec.runPolicy.backoffLimit"], paths.Order());
    }

    [Fact]
    public void A_teacher_is_an_experiment_or_a_model_uri_not_both()
    {
        var job = new DistillJob
        {
            Metadata = new ObjectMeta { Name = "dj" },
            Spec = new DistillJobSpec
            {
                Teachers =
                [
                    new ModelSource { ExperimentRef = new LocalObjectReference { Name = "t1" } },
                    new ModelSource { ExperimentRef = new LocalObjectReference { Name = "t2" }, ModelUri = "s3://m/model.pt", ConfigUri = "s3://m/config.yaml" },
                    new ModelSource { ModelUri = "s3://m/model.pt" },
                ],
                Student = Valid().Spec,
            },
        };
        var paths = Validation.Validate(job).Select(e => e.Path).ToList();
        Assert.Equal(["spec.teachers[1]", "spec.teachers[2].configUri"], paths);
    }

    [Fact]
    public void A_distill_job_needs_a_teacher()
    {
        var job = new DistillJob { Spec = new DistillJobSpec { Student = Valid().Spec } };
        var error = Single(Validation.Validate(job));
        Assert.Equal("spec.teachers", error.Path);
        Assert.Contains("at least 1", error.Message);
    }

    [Fact]
    public void Search_parameters_are_checked_under_their_config_key()
    {
        var sweep = new TuneSweep
        {
            Spec = new TuneSweepSpec
            {
                Template = Valid().Spec,
                SearchSpace = new()
                {
                    ["SOLVER.BASE_LR"] = new SearchParameter { Type = "loguniform", Min = 0, Max = 1e-3 },
                    ["DATALOADER.NUM_INSTANCE"] = new SearchParameter { Type = "choice", Values = [] },
                    ["SOLVER.MOMENTUM"] = new SearchParameter { Type = "normal", Min = 0.8, Max = 0.99 },
                },
                MaxTrials = 2,
                MaxFailedTrials = 5,
            },
        };
        var errors = Validation.Validate(sweep).Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.StartsWith("spec.searchSpace[\"SOLVER.BASE_LR\"].min: loguniform needs min > 0"));
        Assert.Contains(errors, e => e.StartsWith("spec.searchSpace[\"DATALOADER.NUM_INSTANCE\"].values:"));
        Assert.Contains(errors, e => e.StartsWith("spec.searchSpace[\"SOLVER.MOMENTUM\"].type: must be one of uniform, loguniform"));
        Assert.Contains(errors, e => e.StartsWith("spec.maxFailedTrials: must not exceed spec.maxTrials (2)"));
    }

    [Fact]
    public void Export_options_are_range_checked()
    {
        var job = new ExportJob
        {
            Spec = new ExportJobSpec
            {
                Source = new ModelSource { ExperimentRef = new LocalObjectReference { Name = "exp1" } },
                Format = "tflite",
                Onnx = new OnnxSpec { Opset = 3 },
                Verify = new VerifySpec { Tolerance = 0 },
                Output = new OutputSpec { Uri = "s3://models/exp1-onnx" },
            },
        };
        var paths = Validation.Validate(job).Select(e => e.Path).ToList();
        Assert.Equal(["spec.format", "spec.onnx.opset", "spec.verify.tolerance"], paths);
    }

    [Theory]
    [InlineData(true, "s3://m/model.pt", "s3://m/config.yaml", "spec.source: give exactly one of experimentRef or modelUri")]
    [InlineData(false, null, null, "spec.source: give exactly one of experimentRef or modelUri")]
    [InlineData(false, "s3://m/model.pt", null, "spec.source.configUri: is required with modelUri")]
    [InlineData(true, null, "s3://m/config.yaml", "spec.source.configUri: is only used with modelUri")]
    public void An_export_source_is_an_experiment_or_a_model_and_config_uri(bool byRef, string? model, string? config, string expected)
    {
        var job = new ExportJob
        {
            Spec = new ExportJobSpec
            {
                Source = new ModelSource { ExperimentRef = byRef ? new LocalObjectReference { Name = "exp1" } : null, ModelUri = model, ConfigUri = config },
            },
        };
        var errors = Validation.Validate(job).Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Conditions_keep_their_transition_time_while_the_status_holds()
    {
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var list = Conditions.Set(null, new Condition { Type = "Running", Status = "True", Reason = "PodsRunning" }, t0);
        list = Conditions.Set(list, new Condition { Type = "Running", Status = "True", Reason = "PodsRunning", Message = "2 of 2" }, t0.AddMinutes(5));
        Assert.Equal(t0, Assert.Single(list).LastTransitionTime);
        list = Conditions.Set(list, new Condition { Type = "Running", Status = "False", Reason = "Finished" }, t0.AddMinutes(9));
        Assert.Equal(t0.AddMinutes(9), Assert.Single(list).LastTransitionTime);
    }

    [Fact]
    public void Free_form_config_is_not_checked_by_attribute_rules()
    {
        var e = Valid();
        e.Spec.Config = new JsonObject { ["anything"] = new JsonObject { ["Name"] = "" } };
        Assert.Empty(Validation.Validate(e));
    }

    [Fact]
    public void A_secret_key_name_the_api_server_would_refuse_names_the_field_and_what_is_allowed()
    {
        var e = Valid();
        e.Spec.Output!.SecretRef!.AccessKeyIdKey = "AWS ACCESS KEY";
        var error = Single(Validation.Validate(e));
        Assert.Equal("spec.output.secretRef.accessKeyIdKey", error.Path);
        Assert.Equal("must be a Secret key: letters, digits, '-', '_' or '.', got 'AWS ACCESS KEY'", error.Message);
    }

    [Theory]
    [InlineData("fastreid-trainer:1.0 ")]
    [InlineData("registry.corp/fastreid trainer:1.0")]
    public void An_image_with_whitespace_is_invalid(string image)
    {
        var e = Valid();
        e.Spec.Resources.Image = image;
        var error = Single(Validation.Validate(e));
        Assert.Equal("spec.resources.image", error.Path);
        Assert.StartsWith("must be an image reference without whitespace", error.Message);
    }

    [Fact]
    public void The_trainer_refuses_an_epoch_count_beyond_32_bits_with_the_key_not_an_overflow()
    {
        var config = FastReid.Config.FastReidConfig.Defaults();
        var error = Assert.Throws<FastReid.Config.ConfigException>(() => config.ApplyOverrides(["SOLVER.MAX_EPOCH", "3000000000"]));
        Assert.Equal("command line: SOLVER.MAX_EPOCH: must be from 1 to 2147483647 (got 3000000000)", error.Message);
        Assert.Equal("SOLVER.MAX_EPOCH", error.Key);
    }
}
