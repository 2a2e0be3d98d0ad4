using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

/// <summary>Pods that do not start (kubelet and scheduler reasons), the pending deadline, and init containers that fail.</summary>
public sealed class PendingPodsTests
{
    private static Condition Cond(Plan<ReidExperimentStatus> plan, string type) => Conditions.Find(plan.Status.Conditions, type)
        ?? throw new Xunit.Sdk.XunitException($"no {type} condition in [{string.Join(", ", plan.Status.Conditions?.Select(c => c.Type) ?? [])}]");

    /// <summary>A pod of the run, created at <see cref="Fixtures.T0"/>, in phase Pending with the given status.</summary>
    private static V1Pod PendingPod(string run, int index, Action<V1PodStatus> status)
    {
        var pod = Pod(run, index, "Pending");
        pod.Metadata.CreationTimestamp = T0.UtcDateTime;
        pod.Status = new V1PodStatus { Phase = "Pending" };
        status(pod.Status);
        return pod;
    }

    private static V1ContainerStatus Waiting(string name, string reason, string? message = null) => new()
    {
        Name = name, Image = "img", ImageID = "", Ready = false, RestartCount = 0,
        State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = message } },
    };

    private static V1Pod MissingSecret(string run, int index = 0) => PendingPod(run, index, s =>
    {
        s.Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "True" }];
        s.ContainerStatuses = [Waiting("trainer", "CreateContainerConfigError", "secret \"s3-creds\" not found")];
    });

    /// <summary>The experiment (one node), its first plan, and a look at <paramref name="now"/> with the given pods.</summary>
    private static (ReidExperiment Experiment, string Run, Plan<ReidExperimentStatus> Plan) Look(DateTimeOffset now, Func<string, V1Pod[]> pods,
        RunPolicy? policy = null, PlannerOptions? options = null)
    {
        var e = Experiment(nodes: 1, gpus: 1);
        if (policy is not null) e.Spec.RunPolicy = policy;
        var first = Plan(e, options: options);
        var run = first.Status.JobName!;
        var plan = Plan(e.WithStatus(first.Status), Created(first, now, j => j.Status.Active = 1, pods(run)), options);
        return (e, run, plan);
    }

    [Fact]
    public void A_missing_secret_is_named_in_pods_ready_with_the_kubelets_reason_and_a_warning_event()
    {
        var (_, run, plan) = Look(T0.AddMinutes(1), run => [MissingSecret(run)]);
        var ready = Cond(plan, ConditionTypes.PodsReady);
        Assert.Equal(("False", "CreateContainerConfigError"), (ready.Status, ready.Reason));
        Assert.Equal($"pod {run}-0-abcde, container trainer: CreateContainerConfigError: secret \"s3-creds\" not found", ready.Message);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        var ev = Assert.Single(plan.Events, e => e.Reason == "CreateContainerConfigError");
        Assert.Equal((PlannedEvent.Warning, ready.Message), (ev.Type, ev.Message));
        Assert.Equal(TimeSpan.FromMinutes(9), plan.RequeueAfter); // at the default deadline, 600 s after the pod was made
    }

    [Fact]
    public void The_same_stuck_reason_on_the_next_look_records_no_second_event()
    {
        var (e, run, plan) = Look(T0.AddMinutes(1), run => [MissingSecret(run)]);
        var again = Plan(e.WithStatus(plan.Status), Created(Plan(Experiment(nodes: 1, gpus: 1)), T0.AddMinutes(2), j => j.Status.Active = 1, MissingSecret(run)));
        Assert.DoesNotContain(again.Events, ev => ev.Reason == "CreateContainerConfigError");
        Assert.Equal(TimeSpan.FromMinutes(8), again.RequeueAfter);
    }

    [Fact]
    public void An_image_that_does_not_pull_is_one_stuck_state_whether_the_kubelet_says_err_image_pull_or_back_off()
    {
        V1Pod Pull(string run, string reason, string message) => PendingPod(run, 0, s => s.ContainerStatuses = [Waiting("trainer", reason, message)]);
        var (e, run, pulling) = Look(T0.AddMinutes(1), run => [Pull(run, "ErrImagePull", "rpc error: code = NotFound desc = fastreid-trainer:nope not found")]);
        Assert.Equal("ErrImagePull", Cond(pulling, ConditionTypes.PodsReady).Reason);
        Assert.Contains("fastreid-trainer:nope not found", Cond(pulling, ConditionTypes.PodsReady).Message);
        Assert.Single(pulling.Events, ev => ev.Reason == "ErrImagePull");

        var backOff = Plan(e.WithStatus(pulling.Status), Created(Plan(Experiment(nodes: 1, gpus: 1)), T0.AddMinutes(2), j => j.Status.Active = 1,
            Pull(run, "ImagePullBackOff", "Back-off pulling image \"fastreid-trainer:nope\"")));
        Assert.Equal("ImagePullBackOff", Cond(backOff, ConditionTypes.PodsReady).Reason);
        Assert.DoesNotContain(backOff.Events, ev => ev.Type == PlannedEvent.Warning);
    }

    [Fact]
    public void A_pod_no_node_can_take_is_unschedulable_in_the_schedulers_words()
    {
        var (_, run, plan) = Look(T0.AddMinutes(1), run => [PendingPod(run, 0, s => s.Conditions =
            [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu." }])]);
        var ready = Cond(plan, ConditionTypes.PodsReady);
        Assert.Equal(("False", "Unschedulable"), (ready.Status, ready.Reason));
        Assert.Equal($"pod {run}-0-abcde: Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.", ready.Message);
        Assert.Contains(plan.Events, ev => ev.Reason == "Unschedulable");
    }

    [Fact]
    public void An_init_container_that_cannot_start_is_named()
    {
        var (_, run, plan) = Look(T0.AddMinutes(1), run => [PendingPod(run, 0, s =>
        {
            s.InitContainerStatuses = [Waiting("synth", "ImagePullBackOff", "Back-off pulling image \"fastreid-trainer:nope\"")];
            s.ContainerStatuses = [Waiting("trainer", "PodInitializing")];
        })]);
        Assert.Equal(("ImagePullBackOff", $"pod {run}-0-abcde, init container synth: ImagePullBackOff: Back-off pulling image \"fastreid-trainer:nope\""),
            (Cond(plan, ConditionTypes.PodsReady).Reason, Cond(plan, ConditionTypes.PodsReady).Message));
    }

    [Theory]
    [InlineData("ContainerCreating")]
    [InlineData("PodInitializing")]
    public void Pods_being_set_up_are_pending_not_stuck_and_never_reach_the_deadline(string reason)
    {
        var (_, _, plan) = Look(T0.AddHours(3), run => [PendingPod(run, 0, s => s.ContainerStatuses = [Waiting("trainer", reason)])]);
        Assert.Equal(("False", "PodsPending"), (Cond(plan, ConditionTypes.PodsReady).Status, Cond(plan, ConditionTypes.PodsReady).Reason));
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.DoesNotContain(plan.Events, ev => ev.Type == PlannedEvent.Warning);
        Assert.Null(plan.RequeueAfter);
    }

    [Fact]
    public void A_pod_held_by_a_scheduling_gate_waits_on_purpose_and_is_not_stuck()
    {
        var (_, _, plan) = Look(T0.AddHours(3), run => [PendingPod(run, 0, s => s.Conditions =
            [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "SchedulingGated", Message = "Scheduling is blocked due to non-empty scheduling gates" }])]);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Equal(("False", "PodsPending"), (Cond(plan, ConditionTypes.PodsReady).Status, Cond(plan, ConditionTypes.PodsReady).Reason));
        Assert.Null(RunLifecycle.Stuck(plan.Status.Conditions));
        Assert.Null(plan.RequeueAfter);
    }

    [Fact]
    public void Once_every_pod_runs_pods_ready_is_true()
    {
        var (_, _, plan) = Look(T0.AddMinutes(1), run => [Pod(run, 0, "Running")]);
        Assert.Equal(("True", "PodsRunning", "1 of 1 pod(s) running"),
            (Cond(plan, ConditionTypes.PodsReady).Status, Cond(plan, ConditionTypes.PodsReady).Reason, Cond(plan, ConditionTypes.PodsReady).Message));
    }

    [Fact]
    public void Past_the_pending_deadline_the_run_fails_with_the_pods_reason_then_its_job_is_deleted_and_nothing_restarts()
    {
        var (e, run, failed) = Look(T0.AddSeconds(600), run => [MissingSecret(run)]);
        Assert.Equal(Phases.Failed, failed.Status.Phase);
        var condition = Cond(failed, ConditionTypes.Failed);
        Assert.Equal(("True", "CreateContainerConfigError"), (condition.Status, condition.Reason));
        Assert.Equal($"pod {run}-0-abcde, container trainer: CreateContainerConfigError: secret \"s3-creds\" not found; " +
            "not started within 600s (runPolicy.pendingDeadlineSeconds): its Job is deleted", condition.Message);
        Assert.Equal(RunLifecycle.PendingDeadlineExceeded, Cond(failed, ConditionTypes.Running).Reason);
        Assert.Equal(T0.AddSeconds(600), failed.Status.CompletionTime);
        Assert.Contains(failed.Events, ev => ev is { Type: PlannedEvent.Warning, Reason: "Failed" } && ev.Message == condition.Message);
        Assert.Empty(failed.Actions); // the Job goes once the Failed status is written

        var observed = Created(Plan(Experiment(nodes: 1, gpus: 1)), T0.AddSeconds(601), j => j.Status.Active = 1, MissingSecret(run));
        var removing = Plan(e.WithStatus(failed.Status), observed);
        Assert.Equal([$"delete Job/{run}", $"delete Service/{run}", $"delete ConfigMap/{run}"], removing.Actions.Select(a => a.ToString()));
        Assert.False(ExperimentStatus.Differs(failed.Status, removing.Status));

        var after = Plan(e.WithStatus(removing.Status), ObservedChildren.None(T0.AddSeconds(602)));
        Assert.Empty(after.Actions);
        Assert.Equal(Phases.Failed, after.Status.Phase);
    }

    [Fact]
    public void The_spec_sets_the_pending_deadline_and_zero_never_fails_the_run()
    {
        var (_, _, early) = Look(T0.AddSeconds(61), run => [MissingSecret(run)], new RunPolicy { PendingDeadlineSeconds = 60 });
        Assert.Equal(Phases.Failed, early.Status.Phase);
        Assert.Contains("not started within 60s", Cond(early, ConditionTypes.Failed).Message);

        var (_, _, never) = Look(T0.AddDays(2), run => [MissingSecret(run)], new RunPolicy { PendingDeadlineSeconds = 0 });
        Assert.Equal(Phases.Pending, never.Status.Phase);
        Assert.Equal("CreateContainerConfigError", Cond(never, ConditionTypes.PodsReady).Reason);
        Assert.Null(never.RequeueAfter);
    }

    [Fact]
    public void The_operators_default_deadline_applies_when_the_spec_has_none()
    {
        var options = new PlannerOptions { PendingDeadlineSeconds = 120 };
        var (_, _, waiting) = Look(T0.AddSeconds(100), run => [MissingSecret(run)], options: options);
        Assert.Equal(TimeSpan.FromSeconds(20), waiting.RequeueAfter);
        var (_, _, failed) = Look(T0.AddSeconds(120), run => [MissingSecret(run)], options: options);
        Assert.Equal(Phases.Failed, failed.Status.Phase);
    }

    [Fact]
    public void With_two_nodes_a_stuck_pod_is_named_even_while_the_other_runs()
    {
        var e = Experiment(nodes: 2, gpus: 4);
        var first = Plan(e);
        var run = first.Status.JobName!;
        var plan = Plan(e.WithStatus(first.Status), Created(first, T0.AddMinutes(1), j => j.Status.Active = 2, Pod(run, 0, "Running"),
            PendingPod(run, 1, s => s.Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/3 nodes are available" }])));
        Assert.Equal(Phases.Running, plan.Status.Phase);
        Assert.Equal(("False", "Unschedulable"), (Cond(plan, ConditionTypes.PodsReady).Status, Cond(plan, ConditionTypes.PodsReady).Reason));
        Assert.Contains($"pod {run}-1-abcde", Cond(plan, ConditionTypes.PodsReady).Message);
    }

    /// <summary>The pod a failed init container leaves: phase Failed, the trainer never left PodInitializing.</summary>
    private static V1Pod InitFailed(string run, string message) => new()
    {
        Metadata = Pod(run, 0, "Failed").Metadata,
        Status = new V1PodStatus
        {
            Phase = "Failed",
            InitContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = "synth", Image = "img", ImageID = "", Ready = false, RestartCount = 0,
                    State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 1, Reason = "Error", Message = message, FinishedAt = T0.UtcDateTime } },
                },
            ],
            ContainerStatuses = [Waiting("trainer", "PodInitializing")],
        },
    };

    [Fact]
    public void An_init_containers_failure_reaches_the_restarting_and_failed_conditions()
    {
        var e = Experiment(nodes: 1, gpus: 0);
        e.Spec.Dataset = new DatasetSpec { Name = "Synthetic" };
        var first = Plan(e);
        var run = first.Status.JobName!;
        const string said = "fastreid data synth: --identities 3 is below the minimum of 4";

        var retrying = Plan(e.WithStatus(first.Status), Created(first, T0.AddMinutes(1), j => { j.Status.Active = 1; j.Status.Failed = 1; }, InitFailed(run, said)));
        Assert.Equal($"1 pod failure(s), backoffLimit 3; init container synth (exit code 1) said: {said}", Cond(retrying, ConditionTypes.Restarting).Message);

        var failed = Plan(e.WithStatus(retrying.Status), Created(first, T0.AddMinutes(2), j =>
        {
            j.Status.Failed = 4;
            j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "BackoffLimitExceeded", Message = "Job has reached the specified backoff limit" }];
        }, InitFailed(run, said)));
        Assert.Equal(Phases.Failed, failed.Status.Phase);
        Assert.Equal(("BackoffLimitExceeded", $"Job has reached the specified backoff limit; init container synth (exit code 1) said: {said}"),
            (Cond(failed, ConditionTypes.Failed).Reason, Cond(failed, ConditionTypes.Failed).Message));
    }
}
