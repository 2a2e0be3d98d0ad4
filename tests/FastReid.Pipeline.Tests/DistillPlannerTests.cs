using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;
using FastReid.Pipeline.Distill;
using FastReid.Pipeline.Experiments;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public sealed class DistillPlannerTests
{
    private const string Student = "market-kd-student";

    private static DistillJob Job(long generation = 1, bool overhaul = false, params ModelSource[] teachers) => new()
    {
        Metadata = new ObjectMeta { Name = "market-kd", Namespace = "team-a", Uid = "kd-uid", Generation = generation },
        Spec = new DistillJobSpec
        {
            Teachers = teachers.Length > 0 ? [.. teachers] : [Ref("market-r101")],
            Student = new ReidExperimentSpec
            {
                Dataset = new DatasetSpec { Name = "Market1501", Uri = "s3://datasets/market1501" },
                Config = new JsonObject
                {
                    ["MODEL"] = new JsonObject { ["BACKBONE"] = new JsonObject { ["DEPTH"] = "18x" } },
                    ["SOLVER"] = new JsonObject { ["MAX_EPOCH"] = 60 },
                },
                Resources = new ResourcesSpec { Nodes = 1, GpusPerNode = 1 },
                Output = new OutputSpec { Uri = "s3://models/market-kd", Endpoint = "http://minio:9000", SecretRef = new SecretReference { Name = "s3-creds" } },
            },
            Kd = new KdSpec { Temperature = 8, Weight = 0.5, Overhaul = new OverhaulSpec { Enabled = overhaul } },
        },
    };

    private static ModelSource Ref(string name) => new() { ExperimentRef = new LocalObjectReference { Name = name } };

    private static ModelSource ByUri(string prefix) => new() { ModelUri = $"{prefix}/model_final.pth", ConfigUri = $"{prefix}/config.yaml" };

    /// <summary>A teacher experiment as its controller leaves it: in <paramref name="phase"/>, with artefacts and digests once Succeeded.</summary>
    private static ReidExperiment Teacher(string name, string? phase, double map = 0.81, string run = "r1")
    {
        var e = Experiment();
        e.Metadata.Name = name;
        e.Status = new ReidExperimentStatus
        {
            Phase = phase,
            Metrics = phase == Phases.Succeeded ? new ReidMetrics { MAP = map, Rank1 = 0.9 } : null,
            Artefacts = phase == Phases.Succeeded ? new ArtefactsStatus
            {
                Model = $"s3://models/{name}/{run}/model_final.pth", Config = $"s3://models/{name}/{run}/config.yaml",
                Sha256 = new() { ["model_final.pth"] = $"{name}-{run}-weights-sha", ["config.yaml"] = $"{name}-{run}-config-sha" },
            } : null,
            Conditions = phase == Phases.Failed ? [new Condition { Type = ConditionTypes.Failed, Status = "True", Reason = "BackoffLimitExceeded", Message = "CUDA out of memory" }] : null,
        };
        return e;
    }

    private static Func<string, ReidExperiment?> World(params ReidExperiment[] experiments) =>
        name => experiments.FirstOrDefault(e => e.Metadata.Name == name);

    private static Plan<DistillJobStatus> PlanOf(DistillJob job, Func<string, ReidExperiment?> world, ObservedChildren? observed = null, PlannerOptions? options = null) =>
        DistillJobPlanner.Plan(job, observed ?? ObservedChildren.None(T0), world, options);

    private static DistillJob With(DistillJob job, DistillJobStatus status)
    {
        job.Status = status;
        return job;
    }

    private static Condition Cond(Plan<DistillJobStatus> plan, string type) => Conditions.Find(plan.Status.Conditions, type)
        ?? throw new Xunit.Sdk.XunitException($"no {type} condition in [{string.Join(", ", plan.Status.Conditions?.Select(c => c.Type) ?? [])}]");

    private static ReidExperiment CreatedStudent(Plan<DistillJobStatus> plan) => (ReidExperiment)Assert.Single(plan.Actions.OfType<CreateChild>()).Object;

    /// <summary>The student as the API server returns it (uid, generation), with its controller's status.</summary>
    private static ObservedChildren Observed(ReidExperiment student, ReidExperimentStatus? status, long generation = 1, DateTimeOffset? now = null)
    {
        var copy = ApiJson.Deserialize<ReidExperiment>(ApiJson.Serialize(student));
        copy.Metadata.Uid = "student-uid";
        copy.Metadata.Generation = generation;
        copy.Metadata.ResourceVersion = "42";
        if (status is not null) status.ObservedGeneration ??= generation;
        copy.Status = status;
        return ObservedChildren.None(now ?? T0.AddMinutes(1)).With([copy]);
    }

    private static JsonNode? At(JsonObject config, string dotted) =>
        dotted.Split('.').Aggregate((JsonNode?)config, (node, part) => node?[part]);

    private static string[] Strings(JsonObject config, string dotted) => [.. At(config, dotted)!.AsArray().Select(n => n!.GetValue<string>())];

    private static void AssertSamePlan(Plan<DistillJobStatus> a, Plan<DistillJobStatus> b)
    {
        Assert.Equal(ApiJson.Serialize(a.Status), ApiJson.Serialize(b.Status));
        Assert.Equal(a.Actions.Select(x => x.ToString()), b.Actions.Select(x => x.ToString()));
        Assert.Equal(a.Actions.OfType<CreateChild>().Select(c => ApiJson.Serialize((ReidExperiment)c.Object)), b.Actions.OfType<CreateChild>().Select(c => ApiJson.Serialize((ReidExperiment)c.Object)));
        Assert.Equal(a.Events, b.Events);
    }

    [Fact]
    public void A_missing_teacher_is_waited_for_by_name_and_said_once()
    {
        var job = Job();
        var plan = PlanOf(job, World());
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        var ready = Cond(plan, ConditionTypes.TeachersReady);
        Assert.Equal(("False", "TeacherNotFound"), (ready.Status, ready.Reason));
        Assert.Contains("ReidExperiment market-r101 does not exist in namespace team-a", ready.Message);
        Assert.Null(plan.Status.StudentExperiment);
        var said = Assert.Single(plan.Events);
        Assert.Equal((PlannedEvent.Normal, "TeacherNotFound"), (said.Type, said.Reason));
        Assert.Null(plan.RequeueAfter); // the teacher's creation wakes the DistillJob

        var again = PlanOf(With(job, plan.Status), World());
        Assert.Empty(again.Events);
        Assert.False(StatusUpdates.Differs(plan.Status, again.Status));
    }

    [Theory]
    [InlineData(null, "not started")]
    [InlineData(Phases.Pending, Phases.Pending)]
    [InlineData(Phases.Running, Phases.Running)]
    public void A_teacher_still_training_is_waited_for_with_its_phase(string? phase, string shown)
    {
        var plan = PlanOf(Job(), World(Teacher("market-r101", phase)));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        var ready = Cond(plan, ConditionTypes.TeachersReady);
        Assert.Equal(("False", "TeacherNotReady"), (ready.Status, ready.Reason));
        Assert.Contains($"ReidExperiment market-r101 is {shown}", ready.Message);
        Assert.Equal("TeacherNotReady", Assert.Single(plan.Events).Reason);
    }

    [Fact]
    public void Each_change_of_a_waiting_teacher_is_one_event()
    {
        var job = Job();
        var missing = PlanOf(job, World());
        var pending = PlanOf(With(job, missing.Status), World(Teacher("market-r101", Phases.Pending)));
        Assert.Equal("TeacherNotReady", Assert.Single(pending.Events).Reason);
        var running = PlanOf(With(job, pending.Status), World(Teacher("market-r101", Phases.Running)));
        Assert.Contains("is Running", Assert.Single(running.Events).Message);
        Assert.Empty(PlanOf(With(job, running.Status), World(Teacher("market-r101", Phases.Running))).Events);
    }

    [Fact]
    public void A_failed_teacher_fails_the_distill_job_with_the_teachers_own_message()
    {
        var job = Job();
        var plan = PlanOf(job, World(Teacher("market-r101", Phases.Failed)));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var failed = Cond(plan, ConditionTypes.Failed);
        Assert.Equal(("True", "TeacherFailed"), (failed.Status, failed.Reason));
        Assert.Equal("ReidExperiment market-r101 failed: CUDA out of memory", failed.Message);
        Assert.Equal(("False", "TeacherFailed"), (Cond(plan, ConditionTypes.TeachersReady).Status, Cond(plan, ConditionTypes.TeachersReady).Reason));
        var warning = Assert.Single(plan.Events); // TeacherFailed, not a second Failed event
        Assert.Equal((PlannedEvent.Warning, "TeacherFailed", failed.Message), (warning.Type, warning.Reason, warning.Message));

        var again = PlanOf(With(job, plan.Status), World(Teacher("market-r101", Phases.Failed)));
        Assert.Empty(again.Events);
        Assert.False(StatusUpdates.Differs(plan.Status, again.Status));

        // The teacher is retried (its spec changed): the DistillJob waits again instead of staying failed.
        var retried = PlanOf(With(job, plan.Status), World(Teacher("market-r101", Phases.Running)));
        Assert.Equal(Phases.Pending, retried.Status.Phase);
        Assert.Null(Conditions.Find(retried.Status.Conditions, ConditionTypes.Failed));
    }

    [Fact]
    public void With_two_teachers_and_one_missing_only_the_missing_one_is_named()
    {
        var job = Job(teachers: [Ref("market-r101"), Ref("market-r50")]);
        var plan = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded)));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        var ready = Cond(plan, ConditionTypes.TeachersReady);
        Assert.Equal("TeacherNotFound", ready.Reason);
        Assert.Contains("market-r50", ready.Message);
        Assert.DoesNotContain("market-r101", ready.Message);
        Assert.Null(plan.Status.Teachers);
    }

    [Fact]
    public void Ready_teachers_make_one_owned_student_whose_config_carries_the_distiller_keys_and_digests()
    {
        var job = Job(teachers: [Ref("market-r101"), Ref("market-r50")]);
        var plan = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded, 0.81), Teacher("market-r50", Phases.Succeeded, 0.78)));
        var student = CreatedStudent(plan);
        Assert.Single(plan.Actions);
        Assert.Equal((Student, "team-a"), (student.Metadata.Name, student.Metadata.Namespace));
        Assert.Equal(DistillNames.StudentName(job), student.Metadata.Name);
        var owner = Assert.Single(student.Metadata.OwnerReferences!);
        Assert.Equal(("fastreid.io/v1alpha1", "DistillJob", "market-kd", "kd-uid", true, true),
            (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal("market-kd", student.Metadata.Labels!["fastreid.io/distilljob"]);

        var config = student.Spec.Config!;
        Assert.Equal("Distiller", At(config, "MODEL.META_ARCHITECTURE")!.GetValue<string>());
        Assert.Equal("18x", At(config, "MODEL.BACKBONE.DEPTH")!.GetValue<string>()); // the user's keys stay
        Assert.Equal(["s3://models/market-r101/r1/config.yaml", "s3://models/market-r50/r1/config.yaml"], Strings(config, "KD.MODEL_CONFIG"));
        Assert.Equal(["s3://models/market-r101/r1/model_final.pth", "s3://models/market-r50/r1/model_final.pth"], Strings(config, "KD.MODEL_WEIGHTS"));
        Assert.Equal(["market-r101-r1-config-sha", "market-r50-r1-config-sha"], Strings(config, "KD.MODEL_CONFIG_SHA256"));
        Assert.Equal(["market-r101-r1-weights-sha", "market-r50-r1-weights-sha"], Strings(config, "KD.MODEL_WEIGHTS_SHA256"));
        Assert.Equal((8.0, 0.5), (At(config, "KD.TEMPERATURE")!.GetValue<double>(), At(config, "KD.LOSS_WEIGHT")!.GetValue<double>()));
        Assert.Null(job.Spec.Student.Config!["KD"]); // the planner's input is not changed

        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Equal(Student, plan.Status.StudentExperiment);
        Assert.Equal(("True", "TeachersSucceeded"), (Cond(plan, ConditionTypes.TeachersReady).Status, Cond(plan, ConditionTypes.TeachersReady).Reason));
        Assert.Equal(("True", "StudentCreated"), (Cond(plan, ConditionTypes.Created).Status, Cond(plan, ConditionTypes.Created).Reason));
        var pinned = plan.Status.Teachers!;
        Assert.Equal(["market-r101", "market-r50"], pinned.Select(t => t.Experiment));
        Assert.Equal(("market-r101-r1-weights-sha", "market-r101-r1-config-sha", 0.81), (pinned[0].ModelSha256, pinned[0].ConfigSha256, pinned[0].Metrics!.MAP));
        Assert.Equal(0.81, plan.Status.TeacherMAP);
        var created = Assert.Single(plan.Events);
        Assert.Equal("StudentCreated", created.Reason);
        Assert.Contains("Distiller from 2 teacher(s): market-r101, market-r50", created.Message);
    }

    [Fact]
    public void The_students_rendered_config_loads_with_the_teachers_and_their_digests()
    {
        var job = Job(teachers: [Ref("market-r101"), ByUri("s3://zoo/r50")]);
        var student = CreatedStudent(PlanOf(job, World(Teacher("market-r101", Phases.Succeeded))));
        student.Metadata.Uid = "student-uid";
        // What the student's own controller makes of it: the config the trainer reads from the ConfigMap.
        var run = ReidExperimentPlanner.Plan(student, ObservedChildren.None(T0));
        Assert.Null(Conditions.Find(run.Status.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } invalid ? invalid : null);
        var yaml = run.Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1ConfigMap>().Single().Data["config.yaml"];
        var loaded = FastReidConfig.Defaults();
        loaded.MergeTree(ConfigTree.FromYaml(yaml, "config.yaml"), "config.yaml");
        Assert.Equal("Distiller", loaded.String("MODEL.META_ARCHITECTURE"));
        Assert.Equal(["s3://models/market-r101/r1/model_final.pth", "s3://zoo/r50/model_final.pth"], loaded.Strings("KD.MODEL_WEIGHTS"));
        Assert.Equal(["market-r101-r1-weights-sha", ""], loaded.Strings("KD.MODEL_WEIGHTS_SHA256"));
        Assert.Equal(["market-r101-r1-config-sha", ""], loaded.Strings("KD.MODEL_CONFIG_SHA256"));
        Assert.Equal((8.0, 0.5), (loaded.Float("KD.TEMPERATURE"), loaded.Float("KD.LOSS_WEIGHT")));
    }

    [Fact]
    public void Teachers_given_by_uri_need_no_experiment_and_have_empty_digests()
    {
        var plan = PlanOf(Job(teachers: [ByUri("s3://zoo/r101"), ByUri("pvc://zoo/r50")]), World());
        var config = CreatedStudent(plan).Spec.Config!;
        Assert.Equal(["s3://zoo/r101/model_final.pth", "pvc://zoo/r50/model_final.pth"], Strings(config, "KD.MODEL_WEIGHTS"));
        Assert.Equal(["s3://zoo/r101/config.yaml", "pvc://zoo/r50/config.yaml"], Strings(config, "KD.MODEL_CONFIG"));
        Assert.Equal(["", ""], Strings(config, "KD.MODEL_WEIGHTS_SHA256"));
        Assert.Equal(["", ""], Strings(config, "KD.MODEL_CONFIG_SHA256"));
        Assert.All(plan.Status.Teachers!, t => Assert.Equal((null, "", "", (ReidMetrics?)null), (t.Experiment, t.ModelSha256, t.ConfigSha256, t.Metrics)));
        Assert.Null(plan.Status.TeacherMAP);
    }

    [Fact]
    public void Overhaul_selects_distiller_overhaul_and_the_users_kd_settings_stay()
    {
        var job = Job(overhaul: true);
        job.Spec.Student.Config!["KD"] = new JsonObject { ["EMA"] = new JsonObject { ["ENABLED"] = true }, ["OVERHAUL"] = new JsonObject { ["LOSS_WEIGHT"] = 2.0 } };
        var plan = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded)));
        Assert.Null(Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec));
        var config = CreatedStudent(plan).Spec.Config!;
        Assert.Equal("DistillerOverhaul", At(config, "MODEL.META_ARCHITECTURE")!.GetValue<string>());
        Assert.True(At(config, "KD.EMA.ENABLED")!.GetValue<bool>());
        Assert.Equal(2.0, At(config, "KD.OVERHAUL.LOSS_WEIGHT")!.GetValue<double>());
        Assert.Single(Strings(config, "KD.MODEL_WEIGHTS"));
    }

    [Theory]
    [InlineData("MODEL", "META_ARCHITECTURE", "\"Baseline\"", "spec.student.config.MODEL.META_ARCHITECTURE", "spec.kd.overhaul.enabled")]
    [InlineData("KD", "MODEL_WEIGHTS", "[\"s3://x/model.pth\"]", "spec.student.config.KD.MODEL_WEIGHTS", "spec.teachers")]
    [InlineData("KD", "MODEL_CONFIG_SHA256", "[\"ab\"]", "spec.student.config.KD.MODEL_CONFIG_SHA256", "spec.teachers")]
    [InlineData("KD", "TEMPERATURE", "4", "spec.student.config.KD.TEMPERATURE", "spec.kd.temperature")]
    public void A_student_config_setting_an_operator_key_is_invalid_and_names_it(string group, string key, string valueJson, string field, string from)
    {
        var job = Job();
        job.Spec.Student.Config![group] = new JsonObject { [key] = JsonNode.Parse(valueJson) };
        var plan = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded)));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var invalid = Cond(plan, ConditionTypes.InvalidSpec);
        Assert.Equal("True", invalid.Status);
        Assert.Contains($"{field}: is set by the operator from {from}", invalid.Message);
        Assert.Equal("InvalidSpec", Assert.Single(plan.Events).Reason);
    }

    [Fact]
    public void An_operator_key_written_dotted_is_found_too_and_student_errors_are_named_under_spec_student()
    {
        var job = Job();
        job.Spec.Student.Config!["MODEL.META_ARCHITECTURE"] = "Distiller";
        job.Spec.Student.Config!["SOLVER"]!["BASE_LRR"] = 0.1;
        job.Spec.Student.Output = null;
        var message = Cond(PlanOf(job, World()), ConditionTypes.InvalidSpec).Message!;
        Assert.Contains("spec.student.config.MODEL.META_ARCHITECTURE: is set by the operator", message);
        Assert.Contains("spec.student.config.SOLVER.BASE_LRR", message);
        Assert.Contains("spec.student.output: is required", message);
    }

    [Fact]
    public void A_teacher_that_is_the_student_itself_is_invalid()
    {
        var plan = PlanOf(Job(teachers: [Ref(Student)]), World());
        Assert.Contains($"spec.teachers[0].experimentRef.name: names {Student}", Cond(plan, ConditionTypes.InvalidSpec).Message);
    }

    [Fact]
    public void A_student_whose_pod_cannot_start_shows_why_on_the_distill_job()
    {
        var job = Job();
        var world = World(Teacher("market-r101", Phases.Succeeded, 0.8114));
        var first = PlanOf(job, world);
        var student = CreatedStudent(first);
        var plan = PlanOf(With(job, first.Status), world, Observed(student, new ReidExperimentStatus
        {
            Phase = Phases.Pending, JobName = "market-kd-student-abc",
            Conditions = [new Condition { Type = ConditionTypes.PodsReady, Status = "False", Reason = "ImagePullBackOff", Message = "pod p-0, container trainer: ImagePullBackOff: Back-off pulling image \"x\"" }],
        }));
        Assert.Equal(("False", "ImagePullBackOff", $"student {Student}: pod p-0, container trainer: ImagePullBackOff: Back-off pulling image \"x\""),
            (Cond(plan, ConditionTypes.PodsReady).Status, Cond(plan, ConditionTypes.PodsReady).Reason, Cond(plan, ConditionTypes.PodsReady).Message));
    }

    [Fact]
    public void The_students_phase_conditions_metrics_and_artefacts_become_the_distill_jobs_with_the_gain()
    {
        var job = Job();
        var world = World(Teacher("market-r101", Phases.Succeeded, 0.8114));
        var first = PlanOf(job, world);
        var student = CreatedStudent(first);

        var pending = PlanOf(With(job, first.Status), world, Observed(student, null));
        Assert.Empty(pending.Actions);
        Assert.Equal(Phases.Pending, pending.Status.Phase);
        Assert.Empty(pending.Events);

        var running = PlanOf(With(job, pending.Status), world, Observed(student, new ReidExperimentStatus
        {
            Phase = Phases.Running, StartTime = T0.AddMinutes(1), JobName = "market-kd-student-abc",
            Conditions = [new Condition { Type = ConditionTypes.Running, Status = "True", Reason = "PodsRunning", Message = "1 of 1 pod(s) running" }],
        }));
        Assert.Empty(running.Actions);
        Assert.Equal((Phases.Running, T0.AddMinutes(1)), (running.Status.Phase, running.Status.StartTime));
        Assert.Equal(("True", "PodsRunning", $"student {Student}: 1 of 1 pod(s) running"),
            (Cond(running, ConditionTypes.Running).Status, Cond(running, ConditionTypes.Running).Reason, Cond(running, ConditionTypes.Running).Message));
        Assert.Equal("Running", Assert.Single(running.Events).Reason);

        ReidExperimentStatus Succeeded() => new()
        {
            Phase = Phases.Succeeded, StartTime = T0.AddMinutes(1), CompletionTime = T0.AddMinutes(30), JobName = "market-kd-student-abc",
            Metrics = new ReidMetrics { MAP = 0.778, Rank1 = 0.886 },
            Artefacts = new ArtefactsStatus { Model = "s3://models/market-kd/model_final.pth", Sha256 = new() { ["model_final.pth"] = "5e" } },
            Conditions =
            [
                new Condition { Type = ConditionTypes.Running, Status = "False", Reason = "Finished", Message = "the Job finished" },
                new Condition { Type = ConditionTypes.Succeeded, Status = "True", Reason = "TrainingSucceeded", Message = "mAP 0.778, rank-1 0.886" },
            ],
        };
        var done = PlanOf(With(job, running.Status), world, Observed(student, Succeeded()));
        Assert.Empty(done.Actions);
        Assert.Equal((Phases.Succeeded, T0.AddMinutes(30)), (done.Status.Phase, done.Status.CompletionTime));
        Assert.Equal((0.778, "s3://models/market-kd/model_final.pth"), (done.Status.Metrics!.MAP, done.Status.Artefacts!.Model));
        Assert.Equal((0.8114, -3.34), (done.Status.TeacherMAP, done.Status.Gain));
        Assert.Equal(("False", "Finished"), (Cond(done, ConditionTypes.Running).Status, Cond(done, ConditionTypes.Running).Reason));
        var succeeded = Cond(done, ConditionTypes.Succeeded);
        Assert.Equal(("True", "TrainingSucceeded"), (succeeded.Status, succeeded.Reason));
        Assert.Equal($"student {Student}: mAP 0.778, rank-1 0.886; -3.34 mAP points against the best teacher (mAP 0.8114)", succeeded.Message);
        var said = Assert.Single(done.Events);
        Assert.Equal(("Succeeded", succeeded.Message), (said.Reason, said.Message));
        Assert.Equal(0.8114, done.Status.Teachers!.Single().Metrics!.MAP);

        var again = PlanOf(With(job, done.Status), world, Observed(student, Succeeded(), now: T0.AddHours(1)));
        Assert.Empty(again.Events);
        Assert.False(StatusUpdates.Differs(done.Status, again.Status));
    }

    [Fact]
    public void A_failed_student_fails_the_distill_job_in_its_words()
    {
        var job = Job();
        var world = World(Teacher("market-r101", Phases.Succeeded));
        var first = PlanOf(job, world);
        var failed = PlanOf(With(job, first.Status), world, Observed(CreatedStudent(first), new ReidExperimentStatus
        {
            Phase = Phases.Failed, JobName = "market-kd-student-abc",
            Conditions = [new Condition { Type = ConditionTypes.Failed, Status = "True", Reason = "BackoffLimitExceeded", Message = "teacher weights sha256 mismatch: KD.MODEL_WEIGHTS[0]" }],
        }));
        Assert.Equal(Phases.Failed, failed.Status.Phase);
        var condition = Cond(failed, ConditionTypes.Failed);
        Assert.Equal(("BackoffLimitExceeded", $"student {Student}: teacher weights sha256 mismatch: KD.MODEL_WEIGHTS[0]"), (condition.Reason, condition.Message));
        var warning = Assert.Single(failed.Events);
        Assert.Equal((PlannedEvent.Warning, "Failed", condition.Message), (warning.Type, warning.Reason, warning.Message));
        Assert.Null(failed.Status.Gain);
    }

    [Fact]
    public void A_student_whose_controller_has_not_seen_its_spec_yet_is_not_mirrored()
    {
        var job = Job();
        var world = World(Teacher("market-r101", Phases.Succeeded));
        var first = PlanOf(job, world);
        var stale = new ReidExperimentStatus { Phase = Phases.Succeeded, ObservedGeneration = 1, Metrics = new ReidMetrics { MAP = 0.5 } };
        var plan = PlanOf(With(job, first.Status), world, Observed(CreatedStudent(first), stale, generation: 2));
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Null(plan.Status.Metrics);
    }

    [Fact]
    public void Teachers_are_pinned_within_a_generation()
    {
        var job = Job();
        var first = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded, 0.81, run: "r1")));
        var student = CreatedStudent(first);

        // The teacher is retrained (new artefacts), or is training again, or is gone: the student is left as it is.
        foreach (var world in new[] { World(Teacher("market-r101", Phases.Succeeded, 0.9, run: "r2")), World(Teacher("market-r101", Phases.Running)), World() })
        {
            var plan = PlanOf(With(job, first.Status), world, Observed(student, null));
            Assert.Empty(plan.Actions);
            Assert.Equal(first.Status.Teachers!.Single().Model, plan.Status.Teachers!.Single().Model);
            Assert.Equal((0.81, "True"), (plan.Status.TeacherMAP, Cond(plan, ConditionTypes.TeachersReady).Status));
            Assert.Empty(plan.Events);
        }
    }

    [Fact]
    public void A_spec_change_resolves_the_teachers_again_and_updates_the_student_in_place()
    {
        var job = Job();
        var first = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded, run: "r1")));
        var student = CreatedStudent(first);
        var done = PlanOf(With(job, first.Status), World(Teacher("market-r101", Phases.Succeeded, run: "r1")), Observed(student, new ReidExperimentStatus
        {
            Phase = Phases.Succeeded, JobName = "old-run", Metrics = new ReidMetrics { MAP = 0.7 },
            Conditions = [new Condition { Type = ConditionTypes.Succeeded, Status = "True", Reason = "TrainingSucceeded", Message = "mAP 0.7" }],
        }));
        Assert.Equal(Phases.Succeeded, done.Status.Phase);

        var changed = Job(generation: 2);
        changed.Spec.Kd.Temperature = 4;
        var world = World(Teacher("market-r101", Phases.Succeeded, 0.85, run: "r2")); // retrained since: the new generation reads it
        var plan = PlanOf(With(changed, done.Status), world, Observed(student, new ReidExperimentStatus
        {
            Phase = Phases.Succeeded, JobName = "old-run", Metrics = new ReidMetrics { MAP = 0.7 },
        }));
        var update = (ReidExperiment)Assert.IsType<UpdateChild>(Assert.Single(plan.Actions)).Object;
        Assert.Equal((Student, "42"), (update.Metadata.Name, update.Metadata.ResourceVersion));
        Assert.Equal(4.0, At(update.Spec.Config!, "KD.TEMPERATURE")!.GetValue<double>());
        Assert.Equal(["s3://models/market-r101/r2/model_final.pth"], Strings(update.Spec.Config!, "KD.MODEL_WEIGHTS"));
        Assert.Equal(["market-r101-r2-weights-sha"], Strings(update.Spec.Config!, "KD.MODEL_WEIGHTS_SHA256"));
        Assert.Equal("kd-uid", Assert.Single(update.Metadata.OwnerReferences!).Uid);
        Assert.NotEqual(done.Status.Run, plan.Status.Run);
        Assert.Equal((Phases.Pending, 2L, 0.85), (plan.Status.Phase, plan.Status.ObservedGeneration, plan.Status.TeacherMAP));
        Assert.Null(plan.Status.Metrics); // the old student's figures do not describe this generation
        Assert.Equal("StudentUpdated", Cond(plan, ConditionTypes.Running).Reason);
        Assert.Null(Conditions.Find(plan.Status.Conditions, ConditionTypes.Succeeded));
        Assert.Equal(["SpecChanged"], plan.Events.Select(e => e.Reason));
        Assert.DoesNotContain(plan.Actions, a => a is CreateChild or DeleteChild); // teachers and the student are never recreated

        // Once the student's controller has its new spec, it is followed again, and nothing more is updated.
        var updated = Observed(update, new ReidExperimentStatus { Phase = Phases.Pending, JobName = "new-run" }, generation: 2);
        var after = PlanOf(With(changed, plan.Status), world, updated);
        Assert.Empty(after.Actions);
        Assert.Equal(Phases.Pending, after.Status.Phase);
    }

    [Fact]
    public void A_student_edited_by_hand_is_put_back()
    {
        var job = Job();
        var world = World(Teacher("market-r101", Phases.Succeeded));
        var first = PlanOf(job, world);
        var edited = CreatedStudent(first);
        edited.Spec.Config!["KD"]!["TEMPERATURE"] = 1.0;
        var plan = PlanOf(With(job, first.Status), world, Observed(edited, null));
        var update = (ReidExperiment)Assert.IsType<UpdateChild>(Assert.Single(plan.Actions)).Object;
        Assert.Equal(8.0, At(update.Spec.Config!, "KD.TEMPERATURE")!.GetValue<double>());
    }

    [Fact]
    public void Planning_twice_on_the_same_input_gives_the_same_plan()
    {
        var job = Job(teachers: [Ref("market-r101"), ByUri("s3://zoo/r50")]);
        var world = World(Teacher("market-r101", Phases.Succeeded));
        AssertSamePlan(PlanOf(job, World()), PlanOf(job, World()));
        var first = PlanOf(job, world);
        AssertSamePlan(first, PlanOf(job, world));

        // The look after the create, before the informer has seen the student: the same create, said once.
        var racing = PlanOf(With(job, first.Status), world);
        Assert.Equal(first.Actions.Select(a => a.ToString()), racing.Actions.Select(a => a.ToString()));
        Assert.Empty(racing.Events);
        Assert.False(StatusUpdates.Differs(first.Status, racing.Status));

        // The read by name has seen it: it is followed, not created again.
        var created = CreatedStudent(first);
        created.Metadata.Uid = "student-uid";
        created.Metadata.Generation = 1;
        var read = PlanOf(With(job, first.Status), World(Teacher("market-r101", Phases.Succeeded), created));
        Assert.Empty(read.Actions);
        Assert.False(StatusUpdates.Differs(first.Status, read.Status));
        AssertSamePlan(read, PlanOf(With(job, first.Status), World(Teacher("market-r101", Phases.Succeeded), created)));
    }

    [Fact]
    public void A_name_held_by_another_experiment_is_reported_and_nothing_is_overwritten()
    {
        var squatter = Teacher(Student, Phases.Running); // someone's own experiment, not owned by this DistillJob
        var job = Job();
        var plan = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded), squatter));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Equal(("False", "StudentNameTaken"), (Cond(plan, ConditionTypes.Created).Status, Cond(plan, ConditionTypes.Created).Reason));
        Assert.Equal((PlannedEvent.Warning, "StudentNameTaken"), (Assert.Single(plan.Events).Type, plan.Events[0].Reason));
        Assert.Empty(PlanOf(With(job, plan.Status), World(Teacher("market-r101", Phases.Succeeded), squatter)).Events);
        Assert.Contains(Student, DistillJobPlanner.References(job));
    }

    [Fact]
    public void A_student_removed_after_it_finished_is_not_retrained()
    {
        var job = Job();
        var world = World(Teacher("market-r101", Phases.Succeeded));
        var first = PlanOf(job, world);
        var done = PlanOf(With(job, first.Status), world, Observed(CreatedStudent(first), new ReidExperimentStatus
        {
            Phase = Phases.Succeeded, Metrics = new ReidMetrics { MAP = 0.7 },
            Conditions = [new Condition { Type = ConditionTypes.Succeeded, Status = "True", Reason = "TrainingSucceeded", Message = "mAP 0.7" }],
        }));
        var gone = PlanOf(With(job, done.Status), world, ObservedChildren.None(T0.AddHours(1)));
        Assert.Empty(gone.Actions);
        Assert.Equal((Phases.Succeeded, 0.7), (gone.Status.Phase, gone.Status.Metrics!.MAP));
    }

    [Fact]
    public void A_distill_job_being_deleted_plans_nothing()
    {
        var job = Job();
        job.Metadata.DeletionTimestamp = T0;
        var plan = PlanOf(job, World(Teacher("market-r101", Phases.Succeeded)));
        Assert.Empty(plan.Actions);
        Assert.Empty(plan.Events);
    }
}
