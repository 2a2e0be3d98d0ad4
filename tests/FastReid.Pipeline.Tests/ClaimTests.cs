using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Distill;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Exports;
using FastReid.Pipeline.Tune;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

/// <summary>
/// pvc://CLAIM/path outputs, datasets and models on the cluster: the claim mounted at /mnt/pvc/CLAIM (read-write for
/// what the pod writes, read-only for what it reads), the trainer given the mounted path, the status given pvc:// URIs
/// again; and local paths, which a pod does not have, refused by field for every kind.
/// </summary>
public sealed class ClaimTests
{
    private const string LocalPathAdvice = "use s3://bucket/prefix or pvc://CLAIM/path";

    private static ReidExperiment OnClaims(string output = "pvc://models/market-r50", string dataset = "s3://datasets/market1501")
    {
        var e = Experiment(nodes: 1, gpus: 0);
        e.Spec.Output = new OutputSpec { Uri = output };
        e.Spec.Dataset = new DatasetSpec { Name = "Market1501", Uri = dataset };
        return e;
    }

    private static V1Job JobOf<TStatus>(Plan<TStatus> plan) where TStatus : ResourceStatus =>
        plan.Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1Job>().Single();

    private static string ConfigYaml(Plan<ReidExperimentStatus> plan) =>
        plan.Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1ConfigMap>().Single().Data[ExperimentChildren.ConfigFileName];

    private static V1Container Trainer(V1Job job) => job.Spec.Template.Spec.Containers.Single();

    private static Dictionary<string, string> Env(V1Job job) => Trainer(job).Env.Where(v => v.Value is not null).ToDictionary(v => v.Name, v => v.Value);

    /// <summary>The PVC volumes of the pod: claim → (volume read-only, mount path, mount read-only).</summary>
    private static Dictionary<string, (bool? VolumeReadOnly, string MountPath, bool? MountReadOnly)> Claims(V1Job job)
    {
        var pod = job.Spec.Template.Spec;
        var mounts = Trainer(job).VolumeMounts.ToDictionary(m => m.Name);
        return pod.Volumes.Where(v => v.PersistentVolumeClaim is not null).ToDictionary(
            v => v.PersistentVolumeClaim.ClaimName,
            v => (v.PersistentVolumeClaim.ReadOnlyProperty, mounts[v.Name].MountPath, mounts[v.Name].ReadOnlyProperty));
    }

    private static Condition Invalid<TStatus>(Plan<TStatus> plan) where TStatus : ResourceStatus =>
        Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } c ? c
            : throw new Xunit.Sdk.XunitException($"no InvalidSpec=True: [{string.Join(", ", plan.Status.Conditions?.Select(x => $"{x.Type}={x.Status}") ?? [])}]");

    [Fact]
    public void A_pvc_output_is_its_claim_mounted_read_write_and_the_trainer_writes_to_the_mounted_path()
    {
        var plan = Plan(OnClaims());
        var job = JobOf(plan);
        Assert.Equal((null, "/mnt/pvc/models", null), Claims(job)["models"]);
        Assert.Contains("OUTPUT_DIR: '/mnt/pvc/models/market-r50'", ConfigYaml(plan));
        Assert.Equal(Phases.Pending, plan.Status.Phase);
    }

    [Fact]
    public void A_pvc_dataset_is_mounted_read_only_and_read_in_place()
    {
        var job = JobOf(Plan(OnClaims(output: "s3://models/market-r50", dataset: "pvc://reid-data/market1501")));
        Assert.Equal((true, "/mnt/pvc/reid-data", true), Claims(job)["reid-data"]);
        var env = Env(job);
        Assert.Equal("/mnt/pvc/reid-data/market1501", env["FASTREID_DATASETS"]);
        Assert.False(env.ContainsKey("FASTREID_DATASET_URI"));
        Assert.DoesNotContain(job.Spec.Template.Spec.Volumes, v => v.Name == "datasets"); // no emptyDir to fetch into
    }

    [Fact]
    public void A_claim_holding_both_the_dataset_and_the_output_is_one_read_write_mount()
    {
        var job = JobOf(Plan(OnClaims(output: "pvc://shared/runs/r50", dataset: "pvc://shared/datasets")));
        Assert.Equal((null, "/mnt/pvc/shared", null), Assert.Single(Claims(job)).Value);
        Assert.Equal("/mnt/pvc/shared/datasets", Env(job)["FASTREID_DATASETS"]);
    }

    [Fact]
    public void Two_claims_are_two_volumes_one_mount_each()
    {
        var job = JobOf(Plan(OnClaims(output: "pvc://models/r50", dataset: "pvc://reid-data/market1501")));
        var claims = Claims(job);
        Assert.Equal(["models", "reid-data"], claims.Keys.Order());
        Assert.Equal((null, "/mnt/pvc/models", null), claims["models"]);
        Assert.Equal((true, "/mnt/pvc/reid-data", true), claims["reid-data"]);
        Assert.Equal(job.Spec.Template.Spec.Volumes.Count, job.Spec.Template.Spec.Volumes.Select(v => v.Name).Distinct().Count());
    }

    [Fact]
    public void The_status_names_the_trainers_files_by_their_pvc_uris()
    {
        var e = OnClaims();
        var plan = Plan(e);
        var result = """
            {"status":"Succeeded","metrics":{"mAP":0.861,"rank1":0.942},
             "artefacts":{"model":"/mnt/pvc/models/market-r50/model_final.pth","config":"/mnt/pvc/models/market-r50/config.yaml",
                          "metrics":"/mnt/pvc/models/market-r50/metrics.json","manifest":"/mnt/pvc/models/market-r50/manifest.json",
                          "checkpoint":"/mnt/pvc/models/market-r50/checkpoints/epoch-0060"},
             "sha256":{"config.yaml":"cd34","model_final.pth":"ab12"}}
            """;
        var observed = Created(plan, T0.AddMinutes(5), job => Complete(job, T0.AddMinutes(5)), Pod(plan.Status.JobName!, 0, "Succeeded", result));
        var done = Plan(e.WithStatus(plan.Status), observed);
        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        var artefacts = done.Status.Artefacts!;
        Assert.Equal("pvc://models/market-r50/model_final.pth", artefacts.Model);
        Assert.Equal("pvc://models/market-r50/config.yaml", artefacts.Config);
        Assert.Equal("pvc://models/market-r50/metrics.json", artefacts.Metrics);
        Assert.Equal("pvc://models/market-r50/manifest.json", artefacts.Manifest);
        Assert.Equal("pvc://models/market-r50/checkpoints/epoch-0060", artefacts.Checkpoint);
        Assert.Equal("ab12", artefacts.Sha256!["model_final.pth"]);
    }

    [Fact]
    public void The_default_storage_on_a_claim_gives_each_experiment_its_folder_there()
    {
        var e = OnClaims();
        e.Spec.Output = null;
        var options = new PlannerOptions { DefaultStorage = new OutputSpec { Uri = "pvc://fastreid-runs/exp" } };
        var plan = Plan(e, options: options);
        Assert.Equal((null, "/mnt/pvc/fastreid-runs", null), Claims(JobOf(plan))["fastreid-runs"]);
        Assert.Contains("OUTPUT_DIR: '/mnt/pvc/fastreid-runs/exp/team-a/market-r50'", ConfigYaml(plan));
    }

    [Fact]
    public void Model_weights_on_a_claim_in_the_config_are_mounted_read_only()
    {
        var e = OnClaims();
        e.Spec.Config!["MODEL"]!["WEIGHTS"] = "pvc://pretrained/r50/model_final.pth";
        var plan = Plan(e);
        Assert.Equal((true, "/mnt/pvc/pretrained", true), Claims(JobOf(plan))["pretrained"]);
        Assert.Contains("WEIGHTS: '/mnt/pvc/pretrained/r50/model_final.pth'", ConfigYaml(plan));
    }

    [Theory]
    [InlineData("/data/models/x")]
    [InlineData("file:///data/models/x")]
    public void A_local_output_path_is_refused_on_the_cluster(string uri)
    {
        var plan = Plan(OnClaims(output: uri));
        Assert.Empty(plan.Actions);
        var message = Invalid(plan).Message;
        Assert.Contains($"spec.output.uri: '{uri}' is a local path", message);
        Assert.Contains(LocalPathAdvice, message);
    }

    [Fact]
    public void On_one_machine_a_local_output_is_planned_and_a_claim_is_refused_instead()
    {
        var local = new PlannerOptions { OneMachine = true };
        var plan = Plan(OnClaims(output: "/data/models/x", dataset: "s3://datasets/market1501"), options: local);
        Assert.Null(Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } c ? c.Message : null);
        Assert.Contains("OUTPUT_DIR: '/data/models/x'", ConfigYaml(plan));

        var onClaim = Plan(OnClaims(output: "pvc://fastreid-runs/exp", dataset: "s3://datasets/market1501"), options: local);
        Assert.Empty(onClaim.Actions);
        Assert.Contains("spec.output.uri: 'pvc://fastreid-runs/exp' names a PersistentVolumeClaim, which only a cluster mounts", Invalid(onClaim).Message);
    }

    [Fact]
    public void A_local_dataset_path_is_refused_on_the_cluster()
    {
        var plan = Plan(OnClaims(dataset: "/mnt/reid"));
        Assert.Empty(plan.Actions);
        Assert.Contains($"spec.dataset.uri: '/mnt/reid' is a local path", Invalid(plan).Message);
    }

    [Fact]
    public void A_relative_output_path_is_refused_saying_what_is_allowed()
    {
        var message = Invalid(Plan(OnClaims(output: "models/x"))).Message;
        Assert.Contains("spec.output.uri: must be s3://bucket/prefix, pvc://CLAIM/path or an absolute path", message);
    }

    [Theory]
    [InlineData("pvc://Models/x", "claim 'Models' is not a PersistentVolumeClaim name")]
    [InlineData("pvc://models_1/x", "claim 'models_1' is not a PersistentVolumeClaim name")]
    [InlineData("pvc:///x", "claim '' is not a PersistentVolumeClaim name")]
    [InlineData("pvc://models/a/../b", "path segment '..' is not allowed")]
    [InlineData("pvc://models/a//b", "path segment '' is not allowed")]
    public void A_malformed_pvc_uri_is_refused_by_field(string uri, string why)
    {
        var plan = Plan(OnClaims(output: uri));
        Assert.Empty(plan.Actions);
        Assert.Contains($"spec.output.uri: '{uri}': {why}", Invalid(plan).Message);
    }

    [Fact]
    public void A_claim_name_of_254_characters_is_refused_and_253_accepted()
    {
        string Claim(int length) => string.Join(".", Enumerable.Range(0, length / 50 + 1).Select(_ => new string('a', 49)))[..length];
        Assert.Contains("is not a PersistentVolumeClaim name", Invalid(Plan(OnClaims(output: $"pvc://{Claim(254)}/x"))).Message);
        var job = JobOf(Plan(OnClaims(output: $"pvc://{Claim(253)}/x")));
        Assert.Equal("pvc-0", Assert.Single(job.Spec.Template.Spec.Volumes, v => v.PersistentVolumeClaim is not null).Name);
    }

    [Fact]
    public void A_malformed_pvc_uri_in_a_config_path_key_names_the_key()
    {
        var e = OnClaims();
        e.Spec.Config!["MODEL"]!["WEIGHTS"] = "pvc://Pretrained/model.pth";
        Assert.Contains("spec.config.MODEL.WEIGHTS: 'pvc://Pretrained/model.pth': claim 'Pretrained'", Invalid(Plan(e)).Message);
    }

    // DistillJob

    private static DistillJob Distill(ModelSource teacher, string studentOutput = "pvc://models/kd") => new()
    {
        Metadata = new ObjectMeta { Name = "market-kd", Namespace = "team-a", Uid = "kd-uid", Generation = 1 },
        Spec = new DistillJobSpec
        {
            Teachers = [teacher],
            Student = OnClaims(output: studentOutput).Spec,
        },
    };

    private static ReidExperiment TeacherOnClaim()
    {
        var e = OnClaims(output: "pvc://teachers/r101");
        e.Metadata.Name = "market-r101";
        e.Status = new ReidExperimentStatus
        {
            Phase = Phases.Succeeded,
            Metrics = new ReidMetrics { MAP = 0.81 },
            Artefacts = new ArtefactsStatus
            {
                Model = "pvc://teachers/r101/model_final.pth", Config = "pvc://teachers/r101/config.yaml",
                Sha256 = new() { ["model_final.pth"] = "w-sha", ["config.yaml"] = "c-sha" },
            },
        };
        return e;
    }

    [Fact]
    public void A_teacher_on_a_claim_is_mounted_read_only_into_the_student_pod_with_its_paths_in_the_kd_keys()
    {
        var teacher = TeacherOnClaim();
        var plan = DistillJobPlanner.Plan(Distill(new ModelSource { ExperimentRef = new LocalObjectReference { Name = teacher.Metadata.Name! } }),
            ObservedChildren.None(T0), name => name == teacher.Metadata.Name ? teacher : null);
        Assert.Equal("pvc://teachers/r101/model_final.pth", Assert.Single(plan.Status.Teachers!).Model); // users see the claim's URI

        var student = (ReidExperiment)Assert.Single(plan.Actions.OfType<CreateChild>()).Object;
        student.Metadata.Uid = "student-uid";
        student.Metadata.Generation = 1;
        var studentPlan = Plan(student);
        var claims = Claims(JobOf(studentPlan));
        Assert.Equal((true, "/mnt/pvc/teachers", true), claims["teachers"]);
        Assert.Equal((null, "/mnt/pvc/models", null), claims["models"]);
        var yaml = ConfigYaml(studentPlan);
        Assert.Contains("MODEL_WEIGHTS: ['/mnt/pvc/teachers/r101/model_final.pth']", yaml);
        Assert.Contains("MODEL_CONFIG: ['/mnt/pvc/teachers/r101/config.yaml']", yaml);
        Assert.DoesNotContain("pvc://", yaml);
    }

    [Theory]
    [InlineData("/models/r101/model_final.pth", "s3://m/r101/config.yaml", "spec.teachers[0].modelUri")]
    [InlineData("pvc://teachers/r101/model_final.pth", "file:///models/r101/config.yaml", "spec.teachers[0].configUri")]
    public void A_teacher_at_a_local_path_is_refused_by_field(string model, string config, string field)
    {
        var plan = DistillJobPlanner.Plan(Distill(new ModelSource { ModelUri = model, ConfigUri = config }), ObservedChildren.None(T0), _ => null);
        Assert.Empty(plan.Actions);
        var message = Invalid(plan).Message;
        Assert.Contains($"{field}: '", message);
        Assert.Contains(LocalPathAdvice, message);
    }

    [Fact]
    public void A_student_output_at_a_local_path_is_refused_under_spec_student()
    {
        var plan = DistillJobPlanner.Plan(Distill(new ModelSource { ModelUri = "s3://m/w.pth", ConfigUri = "s3://m/c.yaml" }, studentOutput: "/data/kd"),
            ObservedChildren.None(T0), _ => null);
        Assert.Contains("spec.student.output.uri: '/data/kd' is a local path", Invalid(plan).Message);
    }

    // TuneSweep

    private static TuneSweep Sweep(string output) => new()
    {
        Metadata = new ObjectMeta { Name = "market-sweep", Namespace = "team-a", Uid = "sweep-uid", Generation = 1 },
        Spec = new TuneSweepSpec
        {
            Template = OnClaims(output: output).Spec,
            SearchSpace = new() { ["SOLVER.BASE_LR"] = new SearchParameter { Type = "loguniform", Min = 1e-5, Max = 1e-3 } },
            Algorithm = new AlgorithmSpec { Name = "random", Seed = 7 },
            Parallelism = 1,
            MaxTrials = 2,
            MaxFailedTrials = 1,
        },
    };

    [Fact]
    public void A_sweep_on_a_claim_has_each_trial_write_under_the_sweeps_folder_there()
    {
        var plan = TuneSweepPlanner.Plan(Sweep("pvc://models/market-sweep"), ObservedChildren.None(T0), _ => null);
        Assert.True(plan.Actions.Count == 1, string.Join("; ", plan.Status.Conditions?.Select(c => c.Message) ?? []));
        var trial = (ReidExperiment)Assert.Single(plan.Actions.OfType<CreateChild>()).Object;
        Assert.Equal($"pvc://models/market-sweep/trials/{trial.Metadata.Name}", trial.Spec.Output!.Uri);

        trial.Metadata.Uid = "trial-uid";
        trial.Metadata.Generation = 1;
        var trialPlan = Plan(trial);
        Assert.Equal((null, "/mnt/pvc/models", null), Claims(JobOf(trialPlan))["models"]);
        Assert.Contains($"OUTPUT_DIR: '/mnt/pvc/models/market-sweep/trials/{trial.Metadata.Name}'", ConfigYaml(trialPlan));
    }

    [Fact]
    public void A_sweep_template_output_at_a_local_path_is_refused_under_spec_template()
    {
        var plan = TuneSweepPlanner.Plan(Sweep("/data/sweeps"), ObservedChildren.None(T0), _ => null);
        Assert.Empty(plan.Actions);
        Assert.Contains("spec.template.output.uri: '/data/sweeps' is a local path", Invalid(plan).Message);
    }

    // ExportJob

    private static ExportJob Export(ModelSource source, string output) => new()
    {
        Metadata = new ObjectMeta { Name = "market-onnx", Namespace = "team-a", Uid = "e1-uid", Generation = 1 },
        Spec = new ExportJobSpec { Source = source, Output = new OutputSpec { Uri = output } },
    };

    [Fact]
    public void An_export_reads_its_source_from_a_read_only_claim_and_writes_to_a_read_write_one()
    {
        var source = new ModelSource { ModelUri = "pvc://teachers/r101/model_final.pth", ConfigUri = "pvc://teachers/r101/config.yaml" };
        var plan = ExportJobPlanner.Plan(Export(source, "pvc://exports/r101"), ObservedChildren.None(T0), sourceExperiment: null);
        var job = JobOf(plan);
        var claims = Claims(job);
        Assert.Equal((true, "/mnt/pvc/teachers", true), claims["teachers"]);
        Assert.Equal((null, "/mnt/pvc/exports", null), claims["exports"]);
        var args = Trainer(job).Args;
        Assert.Equal("/mnt/pvc/teachers/r101/config.yaml", args[args.IndexOf("--config") + 1]);
        Assert.Equal("/mnt/pvc/exports/r101", args[args.IndexOf("--output") + 1]);
        Assert.Equal("/mnt/pvc/teachers/r101/model_final.pth", args[args.IndexOf("MODEL.WEIGHTS") + 1]);
        Assert.Equal("pvc://teachers/r101/model_final.pth", plan.Status.Source!.Model);
    }

    [Fact]
    public void An_export_of_an_experiment_on_a_claim_next_to_its_model_is_one_read_write_mount_and_reports_the_pvc_uri()
    {
        var teacher = TeacherOnClaim();
        var job = Export(new ModelSource { ExperimentRef = new LocalObjectReference { Name = teacher.Metadata.Name! } }, "pvc://teachers/r101/export");
        var plan = ExportJobPlanner.Plan(job, ObservedChildren.None(T0), teacher);
        var created = JobOf(plan);
        Assert.Equal((null, "/mnt/pvc/teachers", null), Assert.Single(Claims(created)).Value);

        var result = """
            {"status":"Succeeded","format":"onnx","artefacts":{"export":"/mnt/pvc/teachers/r101/export/model.onnx","verify":"/mnt/pvc/teachers/r101/export/verify.json"},
             "sha256":{"model.onnx":"ab12"},"verify":{"passed":true,"tolerance":0.0001,"max_relative_error":1.2e-06,"max_abs_error":3.4e-06,"batch":"dynamic","opset":17}}
            """;
        created.Status = new V1JobStatus { Succeeded = 1, StartTime = T0.UtcDateTime, CompletionTime = T0.AddMinutes(3).UtcDateTime,
            Conditions = [new V1JobCondition { Type = "Complete", Status = "True", LastTransitionTime = T0.AddMinutes(3).UtcDateTime }] };
        var pod = Pod(created.Metadata.Name, 0, "Succeeded", result);
        pod.Metadata.Annotations = null;
        job.Status = plan.Status;
        var done = ExportJobPlanner.Plan(job, ObservedChildren.None(T0.AddMinutes(4)).With([created]).With([pod]), teacher);
        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        Assert.Equal("pvc://teachers/r101/export/model.onnx", done.Status.Artefacts!.Export);
    }

    [Theory]
    [InlineData("/models/w.pth", "s3://m/c.yaml", "s3://out/x", "spec.source.modelUri")]
    [InlineData("s3://m/w.pth", "/models/c.yaml", "s3://out/x", "spec.source.configUri")]
    [InlineData("s3://m/w.pth", "s3://m/c.yaml", "file:///exports/x", "spec.output.uri")]
    public void An_export_with_a_local_path_is_refused_by_field(string model, string config, string output, string field)
    {
        var plan = ExportJobPlanner.Plan(Export(new ModelSource { ModelUri = model, ConfigUri = config }, output), ObservedChildren.None(T0), sourceExperiment: null);
        Assert.Empty(plan.Actions);
        var message = Invalid(plan).Message;
        Assert.Contains($"{field}: '", message);
        Assert.Contains(LocalPathAdvice, message);
    }

    [Fact]
    public void Paths_outside_the_claim_mounts_are_reported_as_they_are()
    {
        Assert.Equal("s3://b/p/model.pt", ClaimMounts.UriOf("s3://b/p/model.pt"));
        Assert.Equal("/var/lib/fastreid/x", ClaimMounts.UriOf("/var/lib/fastreid/x"));
        Assert.Equal("/mnt/pvcs/x", ClaimMounts.UriOf("/mnt/pvcs/x"));
        Assert.Equal("pvc://models", ClaimMounts.UriOf("/mnt/pvc/models"));
    }
}
