using FastReid.Api.V1Alpha1;
using FastReid.Operator.Controllers;
using FastReid.Operator.Hosting;
using FastReid.Operator.Runtime;
using FastReid.Pipeline;
using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

public class ControllerTests
{
    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static ReidExperiment Experiment(string name = "exp1") => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "team-a", Uid = "uid-" + name, Generation = 1 },
        Spec = new ReidExperimentSpec
        {
            Dataset = new DatasetSpec { Name = "Synthetic" },
            Resources = new ResourcesSpec { Nodes = 2, GpusPerNode = 4 },
            Output = new OutputSpec { Uri = "s3://models/" + name, SecretRef = new SecretReference { Name = "s3" } },
        },
    };

    private static (FakeCluster Cluster, EntityController<ReidExperiment, ReidExperimentStatus> Controller, ManualTime Time) Setup()
    {
        var cluster = new FakeCluster();
        var time = new ManualTime(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
        var controller = ReidExperimentController.Definition.Create(cluster, cluster.Observe, new PlannerOptions(), time, NullLogger.Instance);
        return (cluster, controller, time);
    }

    private static readonly ObjectKey Key = new("team-a", "exp1");

    [Fact]
    public async Task A_new_experiment_gets_its_children_and_a_status_written_once()
    {
        var (cluster, controller, _) = Setup();
        cluster.Apply(Experiment());
        await controller.ReconcileAsync(Key, default);
        Assert.Equal(3, cluster.Children.Count);
        var job = Assert.Single(cluster.Children.Values.OfType<V1Job>());
        Assert.Equal(2, job.Spec.Completions);
        Assert.Equal(1, cluster.StatusWrites);
        var status = cluster.Read("team-a", "exp1").Status!;
        Assert.Equal(Phases.Pending, status.Phase);
        Assert.Equal(job.Metadata.Name, status.JobName);
        Assert.Contains(cluster.Events, e => e.Reason == "Created");

        // Nothing changed in the world: the next reconcile writes nothing.
        await controller.ReconcileAsync(Key, default);
        Assert.Equal(1, cluster.StatusWrites);
        Assert.Equal(3, cluster.Calls.Count(c => c.StartsWith("create", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Children_that_exist_already_are_not_an_error()
    {
        var (cluster, controller, _) = Setup();
        cluster.Apply(Experiment());
        await controller.ReconcileAsync(Key, default);
        // A restarted operator with empty caches plans the same names again.
        var fresh = ReidExperimentController.Definition.Create(cluster, (_, _, now) => ObservedChildren.None(now), new PlannerOptions(), TimeProvider.System, NullLogger.Instance);
        await fresh.ReconcileAsync(Key, default);
        Assert.Equal(3, cluster.Children.Count);
    }

    [Fact]
    public async Task A_deleted_experiment_is_done()
    {
        var (cluster, controller, _) = Setup();
        Assert.Equal(ReconcileResult.Done, await controller.ReconcileAsync(Key, default));
        Assert.Empty(cluster.Calls);
    }

    [Fact]
    public async Task Success_reaches_the_status_through_the_pod_termination_message()
    {
        var (cluster, controller, time) = Setup();
        cluster.Apply(Experiment());
        await controller.ReconcileAsync(Key, default);
        var job = cluster.Children.Values.OfType<V1Job>().Single();
        var run = job.Metadata.Name;
        job.Status = new V1JobStatus
        {
            Succeeded = 2,
            StartTime = time.Now.UtcDateTime,
            CompletionTime = time.Now.AddHours(2).UtcDateTime,
            Conditions = [new V1JobCondition { Type = "Complete", Status = "True" }],
        };
        cluster.Pods.Add(new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = run + "-0-x",
                NamespaceProperty = "team-a",
                Labels = new Dictionary<string, string> { ["fastreid.io/run"] = run, ["fastreid.io/experiment"] = "exp1" },
                Annotations = new Dictionary<string, string> { ["batch.kubernetes.io/job-completion-index"] = "0" },
            },
            Status = new V1PodStatus
            {
                Phase = "Succeeded",
                ContainerStatuses = [new V1ContainerStatus { Name = "trainer", Image = "i", ImageID = "", Ready = false, RestartCount = 0,
                    State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 0, Message = """{"metrics":{"mAP":0.87,"rank1":0.95}}""" } } }],
            },
        });
        time.Now = time.Now.AddHours(2);
        await controller.ReconcileAsync(Key, default);
        var status = cluster.Read("team-a", "exp1").Status!;
        Assert.Equal(Phases.Succeeded, status.Phase);
        Assert.Equal(0.87, status.Metrics!.MAP);
        Assert.Contains(cluster.Events, e => e.Reason == "Succeeded");
    }

    [Fact]
    public async Task A_stale_read_loses_the_status_write_and_the_loop_retries_it()
    {
        var (cluster, controller, _) = Setup();
        cluster.Apply(Experiment());
        var racing = new FakeClusterRacer(cluster);
        var racingController = ReidExperimentController.Definition.Create(racing, cluster.Observe, new PlannerOptions(), TimeProvider.System, NullLogger.Instance);
        using var queue = new WorkQueue<ObjectKey>(baseDelay: TimeSpan.FromMilliseconds(5));
        var metrics = new OperatorMetrics();
        var loop = new ControllerLoop("ReidExperiment", queue, racingController.ReconcileAsync, metrics, NullLogger.Instance, workers: 1);
        using var cts = new CancellationTokenSource();
        var running = loop.RunAsync(cts.Token);
        queue.Add(Key);
        for (int i = 0; i < 500 && cluster.StatusWrites == 0; i++) await Task.Delay(10);
        await cts.CancelAsync();
        await running;
        Assert.Equal(1, cluster.StatusWrites);
        Assert.Equal(1, metrics.Reconciles.WithLabels("ReidExperiment", "conflict").Value);
        Assert.Equal(3, cluster.Children.Count);
    }

    [Fact]
    public async Task Failing_events_do_not_fail_the_reconcile()
    {
        var (cluster, controller, _) = Setup();
        cluster.FailEvents = true;
        cluster.Apply(Experiment());
        await controller.ReconcileAsync(Key, default);
        Assert.Equal(1, cluster.StatusWrites);
    }

    [Fact]
    public async Task An_unknown_config_key_is_named_and_no_job_is_made()
    {
        var (cluster, controller, _) = Setup();
        var e = Experiment();
        e.Spec.Config = new System.Text.Json.Nodes.JsonObject { ["SOLVER"] = new System.Text.Json.Nodes.JsonObject { ["BASE_LRR"] = 0.1 } };
        cluster.Apply(e);
        await controller.ReconcileAsync(Key, default);
        Assert.Empty(cluster.Children);
        var condition = Conditions.Find(cluster.Read("team-a", "exp1").Status!.Conditions, ConditionTypes.InvalidSpec)!;
        Assert.Equal("True", condition.Status);
        Assert.Contains("spec.config.SOLVER.BASE_LRR", condition.Message);
        Assert.Contains("did you mean SOLVER.BASE_LR", condition.Message);
    }

    [Fact]
    public async Task An_export_job_waits_for_its_experiment_and_then_makes_one_job()
    {
        var (cluster, _, time) = Setup();
        var exports = ExportJobController.Definition.Create(cluster, cluster.Observe, new PlannerOptions(), time, NullLogger.Instance);
        cluster.Apply(new ExportJob
        {
            Metadata = new ObjectMeta { Name = "exp1-onnx", Namespace = "team-a", Uid = "uid-x", Generation = 1 },
            Spec = new ExportJobSpec
            {
                Source = new ModelSource { ExperimentRef = new LocalObjectReference { Name = "exp1" } },
                Output = new OutputSpec { Uri = "s3://models/exp1/export" },
            },
        });
        var key = new ObjectKey("team-a", "exp1-onnx");
        await exports.ReconcileAsync(key, default);
        Assert.Empty(cluster.Children);
        Assert.Equal("SourceNotFound", Conditions.Find(cluster.ReadExport("team-a", "exp1-onnx").Status!.Conditions, ConditionTypes.SourceReady)!.Reason);

        var experiment = Experiment();
        experiment.Status = new ReidExperimentStatus
        {
            Phase = Phases.Succeeded,
            Artefacts = new ArtefactsStatus { Model = "s3://models/exp1/model.pt", Config = "s3://models/exp1/config.yaml" },
        };
        cluster.Apply(experiment);
        await exports.ReconcileAsync(key, default);
        var job = Assert.Single(cluster.Children.Values.OfType<V1Job>());
        Assert.Equal("ExportJob", job.Metadata.OwnerReferences[0].Kind);
        var status = cluster.ReadExport("team-a", "exp1-onnx").Status!;
        Assert.Equal((Phases.Pending, job.Metadata.Name, "s3://models/exp1/model.pt"), (status.Phase, status.JobName, status.Source!.Model));
        Assert.Contains("ExportJob", cluster.EventKinds);

        var writes = cluster.StatusWrites;
        await exports.ReconcileAsync(key, default);
        Assert.Equal(writes, cluster.StatusWrites);
        Assert.Single(cluster.Children.Values.OfType<V1Job>());
    }

    /// <summary>Someone else writes the experiment between our read and our status write, once.</summary>
    private sealed class FakeClusterRacer(FakeCluster inner) : Kube.IClusterApi
    {
        private bool _raced;
        public Task<System.Text.Json.Nodes.JsonObject?> GetAsync(KindDescriptor kind, string ns, string name, CancellationToken ct) => inner.GetAsync(kind, ns, name, ct);
        public Task<bool> CreateAsync(string ns, object child, CancellationToken ct) => inner.CreateAsync(ns, child, ct);
        public Task<bool> ReplaceAsync(string ns, object child, CancellationToken ct) => inner.ReplaceAsync(ns, child, ct);
        public Task<bool> DeleteAsync(string ns, DeleteChild child, CancellationToken ct) => inner.DeleteAsync(ns, child, ct);
        public Task MergePatchAsync(string ns, string apiVersion, string kind, string name, System.Text.Json.Nodes.JsonObject patch, CancellationToken ct) => inner.MergePatchAsync(ns, apiVersion, kind, name, patch, ct);
        public Task RecordEventAsync(KindDescriptor kind, ObjectMeta involved, PlannedEvent planned, CancellationToken ct) => inner.RecordEventAsync(kind, involved, planned, ct);
        public Task ReplaceStatusAsync(KindDescriptor kind, System.Text.Json.Nodes.JsonObject read, System.Text.Json.Nodes.JsonNode? status, CancellationToken ct)
        {
            if (!_raced)
            {
                _raced = true;
                var current = inner.Read(read["metadata"]!["namespace"]!.GetValue<string>(), read["metadata"]!["name"]!.GetValue<string>());
                current.Metadata.Annotations = new() { ["touched"] = "yes" };
                inner.Apply(current);
            }
            return inner.ReplaceStatusAsync(kind, read, status, ct);
        }
    }
}

public class UnreadableExperimentTests
{
    [Fact]
    public async Task A_spec_field_of_the_wrong_type_is_named_in_invalid_spec()
    {
        var cluster = new FakeCluster();
        cluster.Apply(new ReidExperiment { Metadata = new ObjectMeta { Name = "exp1", Namespace = "team-a", Uid = "u", Generation = 3 } });
        cluster.Experiments["team-a/exp1"]["spec"] = System.Text.Json.Nodes.JsonNode.Parse("""{"dataset":{"name":"Synthetic"},"resources":{"nodes":"two"}}""");
        var controller = ReidExperimentController.Definition.Create(cluster, cluster.Observe, new PlannerOptions(), TimeProvider.System, NullLogger.Instance);
        await controller.ReconcileAsync(new ObjectKey("team-a", "exp1"), default);
        Assert.Empty(cluster.Children);
        var raw = cluster.Experiments["team-a/exp1"];
        var status = raw["status"]!.Deserialize<ReidExperimentStatus>(ApiJson.Options)!;
        var invalid = Conditions.Find(status.Conditions, ConditionTypes.InvalidSpec)!;
        Assert.Equal("True", invalid.Status);
        Assert.StartsWith("spec.resources.nodes: has the wrong type", invalid.Message);
        Assert.Equal(3, status.ObservedGeneration);
        Assert.Equal("two", raw["spec"]!["resources"]!["nodes"]!.GetValue<string>()); // the spec is left as the user wrote it
    }
}
