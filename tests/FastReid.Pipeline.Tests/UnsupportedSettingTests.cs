using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

/// <summary>A setting the trainer cannot run (exit code 4) fails the run at once and says why, in the trainer's words.</summary>
public sealed class UnsupportedSettingTests
{
    private const string Said = "collectives backend 'nccl' cannot run here: libnccl.so.2 cannot be loaded; set FASTREID_DIST_BACKEND=tcp";

    [Fact]
    public void The_experiment_job_fails_at_once_on_a_usage_error_or_an_unsupported_setting()
    {
        var job = Plan(Experiment()).Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1Job>().Single();
        var failJob = job.Spec.PodFailurePolicy.Rules.Single(r => r.Action == "FailJob");
        Assert.Contains(ExitCodes.Unsupported, failJob.OnExitCodes.Values);
        Assert.Contains(2, failJob.OnExitCodes.Values);
    }

    [Fact]
    public void Exit_code_4_fails_the_experiment_as_unsupported_with_the_trainers_message()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var at = T0.AddMinutes(1);
        var observed = Created(first, at, j =>
        {
            j.Status.Failed = 1;
            j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "PodFailurePolicy", Message = "Container trainer for pod team-a/x failed with exit code 4 matching FailJob rule at index 0", LastTransitionTime = at.UtcDateTime }];
        }, Pod(run, 0, "Failed", Said, exitCode: ExitCodes.Unsupported));
        var plan = Plan(e.WithStatus(first.Status), observed);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var failed = Conditions.Find(plan.Status.Conditions, ConditionTypes.Failed)!;
        Assert.Equal(("True", "Unsupported"), (failed.Status, failed.Reason));
        Assert.StartsWith(Said, failed.Message);
        Assert.Contains("exit code 4", failed.Message);
        Assert.Contains(plan.Events, ev => ev is { Type: PlannedEvent.Warning, Reason: "Failed" } && ev.Message.StartsWith(Said, StringComparison.Ordinal));
    }

    [Fact]
    public void Other_failures_keep_the_job_controllers_reason()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var at = T0.AddMinutes(1);
        var observed = Created(first, at, j =>
            j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "BackoffLimitExceeded", Message = "Job has reached the specified backoff limit", LastTransitionTime = at.UtcDateTime }],
            Pod(run, 0, "Failed", "out of memory", exitCode: 1));
        var failed = Conditions.Find(Plan(e.WithStatus(first.Status), observed).Status.Conditions, ConditionTypes.Failed)!;
        Assert.Equal("BackoffLimitExceeded", failed.Reason);
    }
}
