using FastReid.Api.V1Alpha1;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

/// <summary>
/// The Job's and the pods' watches are separate streams: a Job failed by its pods can be seen a moment before the
/// failed pod. The run waits briefly for the pod, so its one Failed status and event carry the trainer's words.
/// </summary>
public sealed class FailedPodTests
{
    private const string Said = "fastreid train: MODEL.BACKBONE.DEPTH: '18y' is not one of: 18x, 34x, 50x";

    private static void FailedByPolicy(V1Job j, DateTimeOffset at)
    {
        j.Status.Failed = 1;
        j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "PodFailurePolicy", Message = "Container trainer for pod team-a/x failed with exit code 2 matching FailJob rule at index 0", LastTransitionTime = at.UtcDateTime }];
    }

    [Fact]
    public void A_job_failed_by_its_pod_waits_for_the_pod_and_then_fails_once_in_the_trainers_words()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var failedAt = T0.AddMinutes(1);

        var early = Plan(e.WithStatus(first.Status), Created(first, failedAt.AddSeconds(1), j => FailedByPolicy(j, failedAt)));
        Assert.NotEqual(Phases.Failed, early.Status.Phase);
        Assert.Null(Conditions.Find(early.Status.Conditions, ConditionTypes.Failed));
        Assert.DoesNotContain(early.Events, ev => ev.Reason == "Failed");
        Assert.Equal(TimeSpan.FromSeconds(9), early.RequeueAfter);

        var seen = Plan(e.WithStatus(early.Status), Created(first, failedAt.AddSeconds(2), j => FailedByPolicy(j, failedAt), Pod(run, 0, "Failed", Said, exitCode: 2)));
        Assert.Equal(Phases.Failed, seen.Status.Phase);
        Assert.Contains(Said, Conditions.Find(seen.Status.Conditions, ConditionTypes.Failed)!.Message);
        Assert.Single(seen.Events, ev => ev.Reason == "Failed");
    }

    [Fact]
    public void A_failed_pod_that_never_shows_up_fails_the_run_after_the_grace_with_the_jobs_words()
    {
        var e = Experiment();
        var first = Plan(e);
        var failedAt = T0.AddMinutes(1);
        var late = Plan(e.WithStatus(first.Status), Created(first, failedAt + RunLifecycle.FailedPodGrace, j => FailedByPolicy(j, failedAt)));
        Assert.Equal(Phases.Failed, late.Status.Phase);
        Assert.StartsWith("Container trainer for pod team-a/x failed", Conditions.Find(late.Status.Conditions, ConditionTypes.Failed)!.Message);
    }

    [Fact]
    public void A_job_past_its_deadline_fails_at_once_since_no_pod_explains_it()
    {
        var e = Experiment();
        var first = Plan(e);
        var failedAt = T0.AddMinutes(1);
        var plan = Plan(e.WithStatus(first.Status), Created(first, failedAt.AddSeconds(1), j =>
            j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "DeadlineExceeded", Message = "Job was active longer than specified deadline", LastTransitionTime = failedAt.UtcDateTime }]));
        Assert.Equal(("DeadlineExceeded", Phases.Failed), (Conditions.Find(plan.Status.Conditions, ConditionTypes.Failed)!.Reason, plan.Status.Phase));
    }
}
