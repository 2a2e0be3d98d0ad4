using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;
using FastReid.KubeEmulator;
using FastReid.Operator.Tests.Packaging;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Operator.Tests;

/// <summary>
/// examples/: what users copy. They apply with kubectl to a server that has the generated CRDs, pass the
/// operator's own validation, and say what their comments say (the CPU recipe, 2 × 4 GPUs, one Secret).
/// </summary>
public sealed class ExamplesTests
{
    private static readonly string Dir = Repo.PathOf("examples");

    private static List<(string File, JsonObject Object)> Manifests() =>
        Directory.GetFiles(Dir, "*.yaml").Order(StringComparer.Ordinal)
            .SelectMany(f => YamlJson.Documents(File.ReadAllText(f), "examples/" + Path.GetFileName(f)).Select(d => (Path.GetFileName(f), (JsonObject)d!)))
            .ToList();

    private static T Typed<T>(string kind, string name)
    {
        var found = Manifests().Where(m => (string?)m.Object["kind"] == kind && (string?)m.Object["metadata"]!["name"] == name).ToList();
        Assert.True(found.Count == 1, $"expected one {kind} {name} in examples/, found {found.Count}");
        return found[0].Object.Deserialize<T>(ApiJson.Options)!;
    }

    [Fact]
    public void The_examples_cover_every_kind_users_start_from()
    {
        var kinds = Manifests().Select(m => $"{m.Object["kind"]}/{m.Object["metadata"]!["name"]}").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
        [
            "DistillJob/demo-kd",
            "DistillJob/market1501-r50-to-r18",
            "ExportJob/demo-student-onnx",
            "ExportJob/market1501-r50-onnx",
            "ExportJob/synthetic-r18-cpu-onnx",
            "ReidExperiment/demo-student-alone",
            "ReidExperiment/demo-teacher",
            "ReidExperiment/market1501-r50",
            "ReidExperiment/synthetic-r18-cpu",
            "Secret/s3-credentials",
            "TuneSweep/demo-sweep",
            "TuneSweep/synthetic-lr-sweep",
            "TuneSweep/synthetic-quick-sweep",
        ], kinds);
    }

    [Fact]
    public async Task Kubectl_applies_every_example_to_a_server_with_the_generated_crds()
    {
        await using var kube = await KubeEmulatorServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("examples-").FullName;
        try
        {
            var kubeconfig = kube.WriteKubeconfig(Path.Combine(dir, "kubeconfig"));
            var cache = Path.Combine(dir, "cache");
            await Repo.KubectlOk(kubeconfig, cache, "apply", "-f", Repo.PathOf("crds"));
            // Strict field validation (kubectl's default): a misspelt field is an error, not silently pruned.
            var applied = await Repo.KubectlOk(kubeconfig, cache, "apply", "--validate=strict", "-f", Dir);
            var expected = Manifests().Select(m => m.Object).ToList();
            foreach (var o in expected)
                Assert.Contains($"/{o["metadata"]!["name"]} created", applied);

            var listed = JsonNode.Parse(await Repo.KubectlOk(kubeconfig, cache, "get", "-f", Dir, "-o", "json"))!["items"]!.AsArray().Cast<JsonObject>().ToList();
            Assert.Equal(expected.Select(o => $"{o["kind"]}/{o["metadata"]!["name"]}").Order(StringComparer.Ordinal),
                listed.Select(o => $"{o["kind"]}/{o["metadata"]!["name"]}").Order(StringComparer.Ordinal));

            // What was stored is what the file says: no field of the examples was pruned by the schema.
            foreach (var original in expected.Where(o => ((string)o["apiVersion"]!).StartsWith(ApiGroup.Group, StringComparison.Ordinal)))
            {
                var stored = listed.Single(o => (string?)o["kind"] == (string?)original["kind"] && (string?)o["metadata"]!["name"] == (string?)original["metadata"]!["name"]);
                foreach (var (path, value) in Leaves(original["spec"], ["spec"]))
                    Assert.True(JsonNode.DeepEquals(value, At(stored, path)) || NumericallyEqual(value, At(stored, path)),
                        $"{original["kind"]}/{original["metadata"]!["name"]}: {string.Join(" > ", path)} was {value?.ToJsonString()} in the example, {At(stored, path)?.ToJsonString() ?? "absent"} on the server");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Leaves with their key paths as segments (keys such as "SOLVER.BASE_LR" hold dots).</summary>
    private static IEnumerable<(string[] Path, JsonNode? Value)> Leaves(JsonNode? node, string[] path) => node switch
    {
        JsonObject obj => obj.SelectMany(p => Leaves(p.Value, [.. path, p.Key])),
        _ => [(path, node)],
    };

    private static JsonNode? At(JsonNode root, string[] path)
    {
        JsonNode? node = root;
        foreach (var part in path) node = node is JsonObject o ? o[part] : null;
        return node;
    }

    private static bool NumericallyEqual(JsonNode? a, JsonNode? b) =>
        a is JsonValue x && b is JsonValue y && x.GetValueKind() == JsonValueKind.Number && y.GetValueKind() == JsonValueKind.Number
        && double.Parse(x.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) == double.Parse(y.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    private static ReidExperiment Experiment(string name, ReidExperimentSpec spec) => new()
    {
        Metadata = new FastReid.Api.V1Alpha1.ObjectMeta { Name = name, Namespace = "default", Uid = "00000000-0000-0000-0000-000000000001" },
        Spec = spec,
    };

    /// <summary>The planner's verdict on a spec: the Job it would create, or the InvalidSpec message.</summary>
    private static V1Job PlannedJob(ReidExperiment experiment, PlannerOptions? options = null)
    {
        var plan = ReidExperimentPlanner.Plan(experiment, ObservedChildren.None(DateTimeOffset.UnixEpoch), options ?? new PlannerOptions());
        var invalid = Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec);
        Assert.True(invalid is null || invalid.Status != "True", $"{experiment.Metadata.Name}: {invalid?.Message}");
        return Assert.Single(plan.Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1Job>());
    }

    [Fact]
    public void Every_custom_resource_example_passes_the_operators_validation()
    {
        var problems = new List<string>();
        void Report(string what, IEnumerable<FieldError> errors) => problems.AddRange(errors.Select(e => $"{what}: {e}"));

        foreach (var name in (string[])["synthetic-r18-cpu", "market1501-r50"])
        {
            var experiment = Typed<ReidExperiment>("ReidExperiment", name);
            Report(name, Validation.Validate(experiment));
            PlannedJob(experiment);
        }

        var distill = Typed<DistillJob>("DistillJob", "market1501-r50-to-r18");
        Report(distill.Metadata.Name!, Validation.Validate(distill));
        Report(distill.Metadata.Name! + " student", SpecConfig.Validate(distill.Spec.Student.Config ?? [], "spec.student.config"));
        PlannedJob(Experiment("student", distill.Spec.Student));
        Assert.Contains(distill.Spec.Teachers, t => t.ExperimentRef?.Name == "market1501-r50");
        // Once its teacher (the example experiment) has succeeded, the operator makes the student and that trains.
        var teacher = Experiment("market1501-r50", Typed<ReidExperiment>("ReidExperiment", "market1501-r50").Spec);
        teacher.Status = new ReidExperimentStatus
        {
            Phase = Phases.Succeeded,
            Artefacts = new ArtefactsStatus { Model = "s3://models/market1501-r50/model_final.pth", Config = "s3://models/market1501-r50/config.yaml" },
        };
        distill.Metadata.Namespace = "default";
        distill.Metadata.Uid = "00000000-0000-0000-0000-000000000002";
        var distillPlan = FastReid.Pipeline.Distill.DistillJobPlanner.Plan(distill, ObservedChildren.None(DateTimeOffset.UnixEpoch), name => name == teacher.Metadata.Name ? teacher : null);
        Assert.True(Conditions.Find(distillPlan.Status.Conditions, ConditionTypes.InvalidSpec) is not { Status: "True" }, Conditions.Find(distillPlan.Status.Conditions, ConditionTypes.InvalidSpec)?.Message);
        var student = Assert.Single(distillPlan.Actions.OfType<CreateChild>().Select(c => c.Object).OfType<ReidExperiment>());
        Assert.Equal("market1501-r50-to-r18-student", student.Metadata.Name);
        student.Metadata.Uid = "00000000-0000-0000-0000-000000000003";
        PlannedJob(student);

        var sweep = Typed<TuneSweep>("TuneSweep", "synthetic-lr-sweep");
        Report(sweep.Metadata.Name!, Validation.Validate(sweep));
        PlannedJob(Experiment("trial", sweep.Spec.Template));
        foreach (var (key, parameter) in sweep.Spec.SearchSpace)
        {
            // Each searched key takes the values the sweep would sample.
            JsonNode? sample = parameter.Values is { Count: > 0 } values ? values[0]?.DeepClone() : JsonValue.Create(parameter.Min);
            Report($"{sweep.Metadata.Name} searchSpace", SpecConfig.Validate(new JsonObject { [key] = sample }, "spec.searchSpace"));
        }
        Report($"{sweep.Metadata.Name} budget", SpecConfig.Validate(new JsonObject { [sweep.Spec.Budget!.Key] = 9 }, "spec.budget.key"));

        var export = Typed<ExportJob>("ExportJob", "synthetic-r18-cpu-onnx");
        Report(export.Metadata.Name!, Validation.Validate(export));
        Assert.Equal("synthetic-r18-cpu", export.Spec.Source.ExperimentRef?.Name);
        Typed<ReidExperiment>("ReidExperiment", export.Spec.Source.ExperimentRef!.Name);
        var byUri = Typed<ExportJob>("ExportJob", "market1501-r50-onnx");
        Report(byUri.Metadata.Name!, Validation.Validate(byUri));
        Assert.Equal((false, 8), (byUri.Spec.Onnx.DynamicBatch, byUri.Spec.Onnx.BatchSize));

        // make demo's pipeline: the same validation (its outputs go to the operator's --default-storage), and the
        // student and export reference what it defines
        var storage = new PlannerOptions { DefaultStorage = new OutputSpec { Uri = "s3://models" } };
        foreach (var name in (string[])["demo-teacher", "demo-student-alone"])
        {
            var experiment = Typed<ReidExperiment>("ReidExperiment", name);
            Report(name, Validation.Validate(experiment));
            PlannedJob(experiment, storage);
        }
        var demoKd = Typed<DistillJob>("DistillJob", "demo-kd");
        Report("demo-kd", Validation.Validate(demoKd));
        Assert.Equal(["demo-teacher"], demoKd.Spec.Teachers.Select(t => t.ExperimentRef?.Name));
        // the KD gain the demo prints compares the same student with and without the teacher
        Assert.Equal(ApiJson.Serialize(Typed<ReidExperiment>("ReidExperiment", "demo-student-alone").Spec), ApiJson.Serialize(demoKd.Spec.Student));
        var demoSweep = Typed<TuneSweep>("TuneSweep", "demo-sweep");
        Report("demo-sweep", Validation.Validate(demoSweep));
        PlannedJob(Experiment("trial", demoSweep.Spec.Template), storage);
        var demoExport = Typed<ExportJob>("ExportJob", "demo-student-onnx");
        Report("demo-student-onnx", Validation.Validate(demoExport));
        Assert.Equal(FastReid.Pipeline.Distill.DistillNames.StudentName(demoKd), demoExport.Spec.Source.ExperimentRef?.Name);

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_synthetic_example_trains_the_cpu_recipe()
    {
        var experiment = Typed<ReidExperiment>("ReidExperiment", "synthetic-r18-cpu");
        Assert.Equal(("Synthetic", 0), (experiment.Spec.Dataset.Name, experiment.Spec.Resources.GpusPerNode));
        var errors = new List<FieldError>();
        var effective = SpecConfig.Effective(experiment.Spec, experiment.Spec.Output!.Uri, "spec", errors);
        Assert.True(effective is not null && errors.Count == 0, string.Join("\n", errors));

        // The recipe as `fastreid train --config` reads it: defaults, then _BASE_, then the file.
        var recipe = FastReidConfig.Defaults();
        var file = Repo.PathOf("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml");
        var tree = ConfigTree.FromYaml(File.ReadAllText(file), file);
        var baseFile = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, ConfigTree.BaseOf(tree, file)!));
        recipe.MergeTree(ConfigTree.FromYaml(File.ReadAllText(baseFile), baseFile), baseFile);
        recipe.MergeTree(ConfigTree.WithoutBase(tree), file);
        recipe.SetValue("OUTPUT_DIR", experiment.Spec.Output.Uri);
        recipe.SetValue("RESUME", "auto"); // the operator's too: a retried pod resumes (it trains nothing else)

        var expected = recipe.ToYaml().Split('\n');
        var actual = effective!.ToYaml().Split('\n');
        var differences = expected.Except(actual).Select(l => "recipe:  " + l).Concat(actual.Except(expected).Select(l => "example: " + l)).ToList();
        Assert.True(differences.Count == 0, "examples/synthetic-cpu.yaml trains something else than the CPU recipe:\n" + string.Join("\n", differences));
    }

    [Fact]
    public void The_market1501_example_runs_two_nodes_by_four_gpus()
    {
        var job = PlannedJob(Typed<ReidExperiment>("ReidExperiment", "market1501-r50"));
        Assert.Equal(("Indexed", 2, 2), (job.Spec.CompletionMode, job.Spec.Completions, job.Spec.Parallelism));
        var trainer = job.Spec.Template.Spec.Containers.Single();
        Assert.Equal("4", trainer.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal("8", trainer.Env.Single(e => e.Name == "WORLD_SIZE").Value);
    }

    [Fact]
    public void Every_secret_reference_names_the_example_secret_and_its_keys()
    {
        var secret = Manifests().Single(m => (string?)m.Object["kind"] == "Secret").Object;
        var keys = secret["stringData"]!.AsObject().Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var references = Manifests().SelectMany(m => SecretRefs(m.Object, m.File)).ToList();
        Assert.True(references.Count >= 5, $"expected every S3 output in examples/ to reference the Secret, found {references.Count}");
        foreach (var (where, reference) in references)
        {
            var typed = reference.Deserialize<SecretReference>(ApiJson.Options)!;
            Assert.True(typed.Name == (string?)secret["metadata"]!["name"], $"{where}: secretRef {typed.Name} is not the example Secret {secret["metadata"]!["name"]}");
            Assert.True(keys.Contains(typed.AccessKeyIdKey) && keys.Contains(typed.SecretAccessKeyKey),
                $"{where}: the Secret has [{string.Join(", ", keys)}], the reference reads {typed.AccessKeyIdKey} and {typed.SecretAccessKeyKey}");
        }
        // Placeholders only: a real key in the repository would be a leak.
        Assert.All(secret["stringData"]!.AsObject(), p => Assert.StartsWith("REPLACE_WITH_", (string)p.Value!));
    }

    private static IEnumerable<(string Where, JsonObject Reference)> SecretRefs(JsonNode? node, string where) => node switch
    {
        JsonObject obj => obj.SelectMany(p => p.Key == "secretRef" && p.Value is JsonObject r ? [($"{where}: {p.Value.GetPath()}", r)] : SecretRefs(p.Value, where)),
        JsonArray array => array.SelectMany(i => SecretRefs(i, where)),
        _ => [],
    };
}
