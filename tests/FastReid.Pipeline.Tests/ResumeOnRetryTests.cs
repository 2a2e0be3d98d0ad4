using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;
using FastReid.Pipeline.Experiments;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

/// <summary>
/// A retried trainer pod continues from its run's newest checkpoint (RESUME auto, with the run's name as
/// FASTREID_RUN_ID, which checkpoints record); a spec change is a new run, whose pods pass over the older run's
/// checkpoints in the same output and train afresh.
/// </summary>
public class ResumeOnRetryTests
{
    private static (FastReidConfig Config, V1Job Job) Planned(ReidExperiment e, ObservedChildren? observed = null)
    {
        var created = Plan(e, observed).Actions.OfType<CreateChild>().Select(c => c.Object).ToList();
        var yaml = created.OfType<V1ConfigMap>().Single().Data[ExperimentChildren.ConfigFileName];
        var config = FastReidConfig.Defaults();
        config.MergeTree(ConfigTree.FromYaml(yaml, "config.yaml"), "config.yaml");
        return (config, created.OfType<V1Job>().Single());
    }

    private static string? RunId(V1Job job) =>
        job.Spec.Template.Spec.Containers.Single().Env.SingleOrDefault(v => v.Name == "FASTREID_RUN_ID")?.Value;

    [Fact]
    public void The_trainer_pod_resumes_its_own_runs_checkpoints_when_the_job_retries_it()
    {
        var (config, job) = Planned(Experiment());
        Assert.Equal("auto", config.String("RESUME"));
        Assert.Equal(job.Metadata.Name, RunId(job));
        Assert.Equal(3, job.Spec.BackoffLimit); // the retries that now resume
        // a refused resume (exit code 2: the checkpoint was trained with another config) fails the Job at once
        Assert.Contains(2, job.Spec.PodFailurePolicy.Rules.Single(r => r.Action == "FailJob").OnExitCodes.Values);
    }

    [Fact]
    public void A_spec_change_is_a_new_run_in_the_same_output_whose_pods_do_not_resume_the_older_runs_checkpoints()
    {
        var first = Experiment(generation: 1);
        var (oldConfig, oldJob) = Planned(first);
        var changed = Experiment(generation: 2);
        changed.Spec.Config!["SOLVER"]!["BASE_LR"] = 0.0007;
        var (newConfig, newJob) = Planned(changed.WithStatus(new ReidExperimentStatus { JobName = oldJob.Metadata.Name, Phase = Phases.Running }));

        Assert.Equal(oldConfig.String("OUTPUT_DIR"), newConfig.String("OUTPUT_DIR")); // retrained in place
        Assert.Equal("auto", newConfig.String("RESUME"));
        // checkpoints record the run id: the new run's pods pass over the old run's and start from scratch
        Assert.NotEqual(RunId(oldJob), RunId(newJob));
        Assert.Equal(newJob.Metadata.Name, RunId(newJob));
    }

    [Fact]
    public void Resume_is_the_operators_a_spec_config_may_only_repeat_auto()
    {
        var e = Experiment();
        e.Spec.Config!["RESUME"] = "";
        var plan = Plan(e);
        var invalid = Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec);
        Assert.Equal("True", invalid?.Status);
        Assert.Contains("spec.config.RESUME", invalid!.Message);
        Assert.Empty(plan.Actions);

        e.Spec.Config["RESUME"] = "auto";
        Assert.Equal("auto", Planned(e).Config.String("RESUME"));
        e.Spec.Config.Remove("RESUME");
        e.Spec.Config["SOLVER"] = new JsonObject { ["MAX_EPOCH"] = 60 };
        Assert.Equal("auto", Planned(e).Config.String("RESUME"));
    }
}
