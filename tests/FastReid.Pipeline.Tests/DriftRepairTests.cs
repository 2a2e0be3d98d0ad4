using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

/// <summary>Children deleted or edited by hand drift back to the plan (controller-runtime's CreateOrUpdate), level-triggered.</summary>
public sealed class DriftRepairTests
{
    private static (ReidExperiment Experiment, Plan<ReidExperimentStatus> First, ObservedChildren Running) ActiveRun()
    {
        var e = Experiment();
        var first = Plan(e);
        var run = first.Status.JobName!;
        var observed = Created(first, T0.AddMinutes(1), j => j.Status.Active = 2, Pod(run, 0, "Running"), Pod(run, 1, "Running"));
        return (e.WithStatus(first.Status), first, observed);
    }

    [Fact]
    public void A_config_map_whose_data_was_edited_is_put_back_with_the_version_observed()
    {
        var (e, first, observed) = ActiveRun();
        var planned = observed.Of<V1ConfigMap>().Single();
        var edited = new V1ConfigMap
        {
            ApiVersion = "v1", Kind = "ConfigMap",
            Metadata = new V1ObjectMeta { Name = planned.Metadata.Name, NamespaceProperty = "team-a", ResourceVersion = "41" },
            Data = new Dictionary<string, string> { ["config.yaml"] = "SOLVER:\n  BASE_LR: 1.0\n" },
        };
        var plan = Plan(e, observed.With([edited]));
        var update = Assert.IsType<UpdateChild>(Assert.Single(plan.Actions));
        var restored = Assert.IsType<V1ConfigMap>(update.Object);
        Assert.Equal(planned.Data, restored.Data);
        Assert.Equal("41", restored.Metadata.ResourceVersion); // a write racing a newer edit loses and is planned again
    }

    [Fact]
    public void A_config_map_with_a_key_added_by_hand_is_put_back()
    {
        var (e, _, observed) = ActiveRun();
        var planned = observed.Of<V1ConfigMap>().Single();
        var extra = new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = planned.Metadata.Name, ResourceVersion = "7" },
            Data = new Dictionary<string, string>(planned.Data) { ["extra.yaml"] = "x: 1" },
        };
        Assert.IsType<UpdateChild>(Assert.Single(Plan(e, observed.With([extra])).Actions));
    }

    [Fact]
    public void An_unchanged_config_map_is_left_alone()
    {
        var (e, _, observed) = ActiveRun();
        Assert.Empty(Plan(e, observed).Actions);
    }

    [Fact]
    public void A_missing_config_map_and_service_of_an_active_run_are_created_again()
    {
        var (e, _, observed) = ActiveRun();
        var plan = Plan(e, observed.With<V1ConfigMap>([]).With<V1Service>([]));
        Assert.Equal(["create ConfigMap/" + e.Status!.JobName, "create Service/" + e.Status.JobName], plan.Actions.Select(a => a.ToString()));
    }

    [Fact]
    public void A_missing_job_of_an_active_run_is_created_again_and_nothing_else_is_touched()
    {
        var (e, _, observed) = ActiveRun();
        var plan = Plan(e, observed.With<V1Job>([]).With<V1Pod>([]));
        var create = Assert.IsType<CreateChild>(Assert.Single(plan.Actions));
        Assert.Equal(("Job", e.Status!.JobName), (create.Kind, create.Name));
    }

    [Fact]
    public void A_job_whose_template_was_edited_is_never_updated()
    {
        // Kubernetes makes spec.template immutable: the plan only ever changes spec.suspend in place.
        var (e, _, observed) = ActiveRun();
        var job = observed.Of<V1Job>().Single();
        job.Spec.Template.Spec.Containers[0].Image = "someone/else:latest";
        job.Spec.BackoffLimit = 99;
        Assert.Empty(Plan(e, observed).Actions);
    }

    [Fact]
    public void A_finished_run_does_not_recreate_its_children()
    {
        var (e, first, _) = ActiveRun();
        var run = first.Status.JobName!;
        var done = T0.AddHours(1);
        var finished = Created(first, done, j => Complete(j, done), Pod(run, 0, "Succeeded", ResultJson));
        var plan = Plan(e, finished.With<V1ConfigMap>([]).With<V1Service>([]));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Succeeded, plan.Status.Phase);
    }
}
