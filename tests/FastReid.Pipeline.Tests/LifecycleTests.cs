using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public class LifecycleTests
{
    private static Condition Cond(Plan<ReidExperimentStatus> plan, string type) =>
        Conditions.Find(plan.Status.Conditions, type) ?? throw new Xunit.Sdk.XunitException($"no {type} condition");

    [Fact]
    public void A_new_experiment_creates_its_three_children_and_is_pending()
    {
        var plan = Plan(Experiment(generation: 4));
        Assert.Equal(["ConfigMap", "Service", "Job"], plan.Actions.Cast<CreateChild>().Select(c => c.Kind));
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Equal(4, plan.Status.ObservedGeneration);
        Assert.Equal("True", Cond(plan, ConditionTypes.Created).Status);
        Assert.Equal(4, Cond(plan, ConditionTypes.Created).ObservedGeneration);
        Assert.Equal("False", Cond(plan, ConditionTypes.InvalidSpec).Status);
        Assert.Equal(plan.Actions.OfType<CreateChild>().First().Name, plan.Status.JobName);
        Assert.Contains(plan.Events, e => e.Reason == "Created");
    }

    [Fact]
    public void A_look_before_the_cache_has_the_job_recreates_nothing_new_and_records_no_second_event()
    {
        var e = Experiment();
        var first = Plan(e);
        var again = Plan(e.WithStatus(first.Status)); // status written, Job not in the cache yet
        Assert.Equal(first.Actions.Select(a => a.ToString()), again.Actions.Select(a => a.ToString()));
        Assert.Empty(again.Events);
        Assert.False(ExperimentStatus.Differs(first.Status, again.Status));
    }

    [Fact]
    public void Once_the_children_exist_nothing_more_is_created()
    {
        var e = Experiment();
        var first = Plan(e);
        var second = Plan(e.WithStatus(first.Status), Created(first, T0.AddSeconds(5)));
        Assert.Empty(second.Actions);
        Assert.Equal(Phases.Pending, second.Status.Phase);
        Assert.False(ExperimentStatus.Differs(first.Status, second.Status)); // seeing the new Job costs no status write
    }

    [Fact]
    public void A_deleted_service_is_recreated_while_the_run_is_in_progress()
    {
        var e = Experiment();
        var first = Plan(e);
        var observed = Created(first, T0.AddSeconds(5)).With<V1Service>([]);
        var action = Assert.Single(Plan(e.WithStatus(first.Status), observed).Actions);
        Assert.Equal("Service", Assert.IsType<CreateChild>(action).Kind);
    }

    [Fact]
    public void Running_pods_make_the_experiment_running()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var observed = Created(first, T0.AddMinutes(1), j => j.Status.Active = 2, Pod(run, 0, "Running"), Pod(run, 1, "Running"));
        var plan = Plan(e.WithStatus(first.Status), observed);
        Assert.Equal(Phases.Running, plan.Status.Phase);
        Assert.Equal("True", Cond(plan, ConditionTypes.Running).Status);
        Assert.Equal("2 of 2 pod(s) running", Cond(plan, ConditionTypes.Running).Message);
        Assert.Contains(plan.Events, ev => ev.Reason == "Running");
    }

    [Fact]
    public void A_failed_pod_while_the_job_retries_is_restarting_with_the_pods_message()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var observed = Created(first, T0.AddMinutes(2), j => { j.Status.Active = 2; j.Status.Failed = 1; },
            Pod(run, 1, "Failed", "CUDA out of memory", exitCode: 1), Pod(run, 0, "Running"), Pod(run, 1, "Running"));
        var plan = Plan(e.WithStatus(first.Status), observed);
        var restarting = Cond(plan, ConditionTypes.Restarting);
        Assert.Equal("True", restarting.Status);
        Assert.Equal("PodFailed", restarting.Reason);
        Assert.Contains("1 pod failure(s), backoffLimit 3", restarting.Message);
        Assert.Contains("CUDA out of memory", restarting.Message);
        Assert.Contains(plan.Events, ev => ev is { Reason: "Restarting", Type: "Warning" });
        Assert.Equal(Phases.Running, plan.Status.Phase);
    }

    [Fact]
    public void Success_fills_metrics_and_artefacts_from_the_rank_zero_termination_message()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var done = T0.AddHours(3);
        var observed = Created(first, done, j => Complete(j, done),
            Pod(run, 0, "Succeeded", ResultJson), Pod(run, 1, "Succeeded", """{"metrics": {"mAP": 0.1}}"""));
        var plan = Plan(e.WithStatus(first.Status), observed);
        Assert.Equal(Phases.Succeeded, plan.Status.Phase);
        Assert.Equal(0.861, plan.Status.Metrics!.MAP);
        Assert.Equal(0.942, plan.Status.Metrics.Rank1);
        Assert.Equal(0.61, plan.Status.Metrics.MINP);
        Assert.Equal("s3://models/market-r50/model_final.pth", plan.Status.Artefacts!.Model);
        Assert.Equal("s3://models/market-r50/metrics.json", plan.Status.Artefacts.Metrics);
        Assert.Equal("ab12", plan.Status.Artefacts.Sha256!["model_final.pth"]);
        Assert.Equal(done, plan.Status.CompletionTime);
        Assert.Equal(T0, plan.Status.StartTime);
        Assert.Equal("True", Cond(plan, ConditionTypes.Succeeded).Status);
        Assert.Equal("False", Cond(plan, ConditionTypes.Running).Status);
        var ev = Assert.Single(plan.Events, ev => ev.Reason == "Succeeded");
        Assert.Contains("mAP 0.861", ev.Message);
        Assert.Null(plan.RequeueAfter);
        Assert.Empty(plan.Actions);
    }

    [Fact]
    public void A_success_without_a_readable_result_says_so()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var observed = Created(first, T0.AddHours(1), j => Complete(j, T0.AddHours(1)), Pod(run, 0, "Succeeded", "epoch 60 done"));
        var plan = Plan(e.WithStatus(first.Status), observed);
        Assert.Equal(Phases.Succeeded, plan.Status.Phase);
        Assert.Null(plan.Status.Metrics);
        Assert.Equal("ResultMissing", Cond(plan, ConditionTypes.Succeeded).Reason);
        Assert.Contains("not result JSON", Cond(plan, ConditionTypes.Succeeded).Message);
        Assert.Null(plan.RequeueAfter);
    }

    [Fact]
    public void A_success_whose_rank_zero_pod_is_not_seen_yet_looks_again_soon()
    {
        var e = Experiment();
        var first = Plan(e);
        var observed = Created(first, T0.AddHours(1), j => Complete(j, T0.AddHours(1)));
        var plan = Plan(e.WithStatus(first.Status), observed);
        Assert.Equal(TimeSpan.FromSeconds(15), plan.RequeueAfter);
        // ...and the result arrives on the next look.
        var run = first.Status.JobName!;
        var later = Plan(e.WithStatus(plan.Status), (observed with { Now = T0.AddHours(1).AddSeconds(15) }).With([Pod(run, 0, "Succeeded", ResultJson)]));
        Assert.Equal(0.861, later.Status.Metrics!.MAP);
        Assert.Equal("TrainingSucceeded", Cond(later, ConditionTypes.Succeeded).Reason);
    }

    [Fact]
    public void A_failed_job_reports_the_jobs_reason_and_the_last_pod_message()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var at = T0.AddMinutes(30);
        var observed = Created(first, at, j =>
        {
            j.Status.Failed = 4;
            j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "BackoffLimitExceeded", Message = "Job has reached the specified backoff limit", LastTransitionTime = at.UtcDateTime }];
        }, Pod(run, 0, "Failed", "FastReidException: unknown key MODEL.BACKBONE.DEPT", exitCode: 2));
        var plan = Plan(e.WithStatus(first.Status), observed);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var failed = Cond(plan, ConditionTypes.Failed);
        Assert.Equal("BackoffLimitExceeded", failed.Reason);
        Assert.Contains("backoff limit", failed.Message);
        Assert.Contains("MODEL.BACKBONE.DEPT", failed.Message);
        Assert.Equal(at, plan.Status.CompletionTime);
        Assert.Contains(plan.Events, ev => ev is { Reason: "Failed", Type: "Warning" });
    }

    [Fact]
    public void Ttl_removes_all_children_after_it_passes_and_keeps_the_status()
    {
        var e = Experiment();
        e.Spec.RunPolicy.TtlSecondsAfterFinished = 3600;
        var first = Plan(e);
        var run = first.Status.JobName!;
        var done = T0.AddHours(1);
        var finished = Created(first, done.AddMinutes(10), j => Complete(j, done), Pod(run, 0, "Succeeded", ResultJson));

        var waiting = Plan(e.WithStatus(first.Status), finished);
        Assert.Equal(TimeSpan.FromMinutes(50), waiting.RequeueAfter);
        Assert.Empty(waiting.Actions);

        var expired = Plan(e.WithStatus(waiting.Status), finished with { Now = done.AddHours(1) });
        Assert.Equal(["delete Job/" + run, "delete Service/" + run, "delete ConfigMap/" + run], expired.Actions.Select(a => a.ToString()));
        Assert.Equal(0.861, expired.Status.Metrics!.MAP);
        Assert.Contains(expired.Events, ev => ev.Reason == "ChildrenRemoved");

        // With the children gone, the result stays and nothing is trained again.
        var after = Plan(e.WithStatus(expired.Status), ObservedChildren.None(done.AddHours(2)));
        Assert.Empty(after.Actions);
        Assert.Equal(Phases.Succeeded, after.Status.Phase);
        Assert.Equal(0.861, after.Status.Metrics!.MAP);
        Assert.False(ExperimentStatus.Differs(expired.Status, after.Status));
    }

    [Fact]
    public void A_new_generation_after_completion_retrains_in_a_new_run()
    {
        var e = Experiment(generation: 1);
        var first = Plan(e);
        var oldRun = first.Status.JobName!;
        var done = T0.AddHours(1);
        var finished = Plan(e.WithStatus(first.Status), Created(first, done, j => Complete(j, done), Pod(oldRun, 0, "Succeeded", ResultJson)));
        Assert.Equal(Phases.Succeeded, finished.Status.Phase);

        var changed = Experiment(generation: 2);
        changed.Spec.Config!["SOLVER"]!["BASE_LR"] = 0.0007;
        var observed = Created(first, done.AddMinutes(5), j => Complete(j, done), Pod(oldRun, 0, "Succeeded", ResultJson));
        var plan = Plan(changed.WithStatus(finished.Status), observed);

        var newRun = plan.Status.JobName!;
        Assert.NotEqual(oldRun, newRun);
        Assert.Equal(
            ["delete Job/" + oldRun, "delete Service/" + oldRun, "delete ConfigMap/" + oldRun,
             "create ConfigMap/" + newRun, "create Service/" + newRun, "create Job/" + newRun],
            plan.Actions.Select(a => a.ToString()));
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Null(plan.Status.Metrics);
        Assert.Null(plan.Status.CompletionTime);
        Assert.Null(Conditions.Find(plan.Status.Conditions, ConditionTypes.Succeeded));
        Assert.Equal(2, plan.Status.ObservedGeneration);
        Assert.Contains(plan.Events, ev => ev.Reason == "SpecChanged");
    }

    [Fact]
    public void A_spec_change_after_ttl_cleanup_also_retrains()
    {
        var e = Experiment(generation: 1);
        var status = new ReidExperimentStatus { Phase = Phases.Succeeded, JobName = ExperimentNames.RunName(e), Metrics = new ReidMetrics { MAP = 0.8 } };
        var changed = Experiment(generation: 2);
        changed.Spec.Resources.Nodes = 4;
        var plan = Plan(changed.WithStatus(status));
        Assert.Equal(3, plan.Actions.OfType<CreateChild>().Count());
        Assert.Equal(4, plan.Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1Job>().Single().Spec.Completions);
    }

    [Fact]
    public void Suspending_a_running_experiment_suspends_its_job_and_resuming_resumes_it()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var observed = Created(first, T0.AddMinutes(1), j => j.Status.Active = 2, Pod(run, 0, "Running"), Pod(run, 1, "Running"));
        var running = Plan(e.WithStatus(first.Status), observed);

        e.Spec.RunPolicy.Suspend = true;
        var suspended = Plan(e.WithStatus(running.Status), observed);
        Assert.Equal(run, suspended.Status.JobName); // same run: suspension is not retraining
        Assert.Equal([new SetJobSuspend(run, true)], suspended.Actions);
        Assert.Equal(Phases.Pending, suspended.Status.Phase);
        Assert.Equal("True", Cond(suspended, ConditionTypes.Suspended).Status);

        e.Spec.RunPolicy.Suspend = false;
        observed.Of<V1Job>()[0].Spec.Suspend = true;
        var resumed = Plan(e.WithStatus(suspended.Status), observed);
        Assert.Equal([new SetJobSuspend(run, false)], resumed.Actions);
        Assert.Equal("False", Cond(resumed, ConditionTypes.Suspended).Status);
    }

    [Fact]
    public void An_invalid_spec_creates_nothing_and_names_the_field()
    {
        var e = Experiment();
        e.Spec.Resources.Nodes = 0;
        e.Spec.Resources.Memory = "lots";
        var plan = Plan(e);
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var invalid = Cond(plan, ConditionTypes.InvalidSpec);
        Assert.Equal("True", invalid.Status);
        Assert.Contains("spec.resources.nodes: must be in [1, 256], got 0", invalid.Message);
        Assert.Contains("spec.resources.memory: 'lots' is not a Kubernetes quantity", invalid.Message);
        Assert.Contains(plan.Events, ev => ev is { Reason: "InvalidSpec", Type: "Warning" });
        // The same invalid spec again records no second event.
        Assert.Empty(Plan(e.WithStatus(plan.Status)).Events);
    }

    [Fact]
    public void Config_errors_from_the_schema_are_reported_with_their_key()
    {
        var options = new PlannerOptions
        {
            ValidateConfig = (config, path) => config["MODEL"]?["BACKBONE"]?["DEPT"] is not null
                ? [new FieldError($"{path}.MODEL.BACKBONE.DEPT", "unknown key; did you mean MODEL.BACKBONE.DEPTH?")]
                : [],
        };
        var e = Experiment();
        e.Spec.Config!["MODEL"]!["BACKBONE"]!["DEPT"] = "50x";
        var plan = Plan(e, options: options);
        Assert.Empty(plan.Actions);
        Assert.Contains("spec.config.MODEL.BACKBONE.DEPT: unknown key; did you mean MODEL.BACKBONE.DEPTH?", Cond(plan, ConditionTypes.InvalidSpec).Message);
    }

    [Fact]
    public void Fixing_an_invalid_spec_creates_the_run()
    {
        var e = Experiment(generation: 1);
        e.Spec.Resources.Cpu = "many";
        var invalid = Plan(e);
        var fixedSpec = Experiment(generation: 2).WithStatus(invalid.Status);
        var plan = Plan(fixedSpec);
        Assert.Equal(3, plan.Actions.Count);
        Assert.Equal("False", Cond(plan, ConditionTypes.InvalidSpec).Status);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
    }

    [Fact]
    public void Without_output_or_default_storage_the_spec_is_invalid()
    {
        var e = Experiment();
        e.Spec.Output = null;
        var plan = Plan(e);
        Assert.Empty(plan.Actions);
        Assert.StartsWith("spec.output: is required", Cond(plan, ConditionTypes.InvalidSpec).Message);
    }

    [Fact]
    public void A_config_that_sets_output_dir_elsewhere_is_refused()
    {
        var e = Experiment();
        e.Spec.Config!["OUTPUT_DIR"] = "logs/market";
        Assert.Empty(SpecConfig.Validate(e.Spec.Config, "spec.config")); // a valid key, but the operator owns it
        var plan = Plan(e);
        Assert.Empty(plan.Actions);
        Assert.Contains("spec.config.OUTPUT_DIR: is set by spec.output.uri", Cond(plan, ConditionTypes.InvalidSpec).Message);
    }

    [Fact]
    public void Planning_again_on_the_same_world_changes_nothing()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var observed = Created(first, T0.AddMinutes(1), j => j.Status.Active = 2, Pod(run, 0, "Running"), Pod(run, 1, "Running"));
        var a = Plan(e.WithStatus(first.Status), observed);
        var b = Plan(e.WithStatus(a.Status), observed with { Now = T0.AddMinutes(7) });
        Assert.False(ExperimentStatus.Differs(a.Status, b.Status));
        Assert.Empty(b.Events);
        Assert.Empty(b.Actions);
    }

    [Fact]
    public void The_planner_does_not_modify_the_status_it_is_given()
    {
        var e = Experiment();
        var first = Plan(e);
        var before = ApiJson.Serialize(first.Status);
        var run = first.Status.JobName!;
        Plan(e.WithStatus(first.Status), Created(first, T0.AddHours(1), j => Complete(j, T0.AddHours(1)), Pod(run, 0, "Succeeded", ResultJson)));
        Assert.Equal(before, ApiJson.Serialize(first.Status));
    }

    [Fact]
    public void A_deleted_experiment_is_left_to_the_garbage_collector()
    {
        var e = Experiment();
        e.Metadata.DeletionTimestamp = T0;
        Assert.Empty(Plan(e).Actions);
    }

    [Fact]
    public void Children_of_an_unknown_run_are_removed()
    {
        var e = Experiment();
        var first = Plan(e);
        var stray = new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "market-r50-0000000000" } };
        var observed = Created(first, T0.AddSeconds(1));
        observed = observed.With<V1ConfigMap>([.. observed.Of<V1ConfigMap>(), stray]);
        Assert.Equal(["delete ConfigMap/market-r50-0000000000"], Plan(e.WithStatus(first.Status), observed).Actions.Select(a => a.ToString()));
    }

    [Fact]
    public void Free_form_config_survives_into_the_config_map()
    {
        var e = Experiment();
        e.Spec.Config!["INPUT"] = new JsonObject { ["SIZE_TRAIN"] = new JsonArray(256, 128) };
        var configMap = Plan(e).Actions.Cast<CreateChild>().Select(c => c.Object).OfType<V1ConfigMap>().Single();
        Assert.Contains("SIZE_TRAIN: [256, 128]", configMap.Data["config.yaml"]);
    }
}
