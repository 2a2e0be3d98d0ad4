using FastReid.Api.V1Alpha1;
using FastReid.Operator.Controllers;
using FastReid.Operator.Kube;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>A child the API server refuses as invalid fails its owner once, with the server's words, and is not sent again.</summary>
public class ChildRejectionTests
{
    private const string JobRefused = "Job.batch \"exp1-abc\" is forbidden: ValidatingAdmissionPolicy 'registry' with binding 'registry' denied request: images must come from registry.corp";

    private static readonly ObjectKey Key = new("team-a", "exp1");

    private static ReidExperiment Experiment(long generation = 1) => new()
    {
        Metadata = new ObjectMeta { Name = "exp1", Namespace = "team-a", Uid = "uid-exp1", Generation = generation },
        Spec = new ReidExperimentSpec
        {
            Dataset = new DatasetSpec { Name = "Synthetic" },
            Output = new OutputSpec { Uri = "s3://models/exp1" },
        },
    };

    private static (FakeCluster Cluster, EntityController<ReidExperiment, ReidExperimentStatus> Controller) Setup()
    {
        var cluster = new FakeCluster { FailWrite = child => child is V1Job ? new ChildRejectedException(JobRefused) : null };
        return (cluster, ReidExperimentController.Definition.Create(cluster, cluster.Observe, new PlannerOptions(), TimeProvider.System, NullLogger.Instance));
    }

    [Fact]
    public async Task A_rejected_job_fails_the_experiment_with_the_servers_message_and_an_event()
    {
        var (cluster, controller) = Setup();
        cluster.Apply(Experiment());
        var result = await controller.ReconcileAsync(Key, default);

        Assert.Null(result.RequeueAfter);
        var status = cluster.Read("team-a", "exp1").Status!;
        Assert.Equal(Phases.Failed, status.Phase);
        var failed = Conditions.Find(status.Conditions, ConditionTypes.Failed)!;
        Assert.Equal(("True", StatusUpdates.ChildRejected, 1L), (failed.Status, failed.Reason, failed.ObservedGeneration));
        Assert.StartsWith("the API server rejected create Job/exp1-", failed.Message);
        Assert.EndsWith("denied request: images must come from registry.corp", failed.Message);
        Assert.Equal("False", Conditions.Find(status.Conditions, ConditionTypes.Created)!.Status);
        var ev = Assert.Single(cluster.Events);
        Assert.Equal((PlannedEvent.Warning, StatusUpdates.ChildRejected, failed.Message), (ev.Type, ev.Reason, ev.Message));
    }

    [Fact]
    public async Task A_rejected_child_is_not_sent_again_until_the_spec_changes()
    {
        var (cluster, controller) = Setup();
        cluster.Apply(Experiment());
        await controller.ReconcileAsync(Key, default);
        int writes = cluster.StatusWrites, calls = cluster.Calls.Count;

        // The status write wakes the experiment again, as would a child's change: nothing is sent, nothing rewritten.
        await controller.ReconcileAsync(Key, default);
        await controller.ReconcileAsync(Key, default);
        Assert.Equal(1, cluster.Calls.Count(c => c.StartsWith("create Job/", StringComparison.Ordinal)));
        Assert.Equal((writes, calls), (cluster.StatusWrites, cluster.Calls.Count));
        Assert.Single(cluster.Events);

        // A new generation is a new request: the server is asked again (and accepts it now).
        cluster.FailWrite = null;
        var edited = Experiment(generation: 2);
        edited.Status = cluster.Read("team-a", "exp1").Status;
        edited.Spec.Config = new System.Text.Json.Nodes.JsonObject { ["SOLVER"] = new System.Text.Json.Nodes.JsonObject { ["BASE_LR"] = 0.001 } };
        cluster.Apply(edited);
        await controller.ReconcileAsync(Key, default);
        Assert.Equal(2, cluster.Calls.Count(c => c.StartsWith("create Job/", StringComparison.Ordinal)));
        var status = cluster.Read("team-a", "exp1").Status!;
        Assert.Equal(Phases.Pending, status.Phase);
        Assert.Null(Conditions.Find(status.Conditions, ConditionTypes.Failed));
    }

    [Fact]
    public async Task Other_api_errors_still_throw_so_the_loop_retries_them_with_backoff()
    {
        var (cluster, controller) = Setup();
        cluster.FailWrite = child => child is V1Job ? new HttpRequestException("503 Service Unavailable") : null;
        cluster.Apply(Experiment());
        await Assert.ThrowsAsync<HttpRequestException>(() => controller.ReconcileAsync(Key, default));
        Assert.Null(cluster.Read("team-a", "exp1").Status);
    }
}
