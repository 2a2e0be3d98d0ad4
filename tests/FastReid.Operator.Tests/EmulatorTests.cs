using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.KubeEmulator;
using FastReid.Operator.Crds;
using FastReid.Operator.Hosting;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>The operator in-process against the Kubernetes API emulator, through the real KubernetesClient.</summary>
public sealed partial class EmulatorTests : IAsyncLifetime
{
    private KubeEmulatorServer _kube = null!;
    private Kubernetes _client = null!;
    private OperatorHost _host = null!;
    private readonly CancellationTokenSource _stop = new();
    private Task<int> _running = null!;

    public async Task InitializeAsync()
    {
        _kube = await KubeEmulatorServer.StartAsync(new KubeEmulatorOptions { BookmarkInterval = TimeSpan.FromMilliseconds(300) });
        _client = new Kubernetes(_kube.ClientConfiguration);
        foreach (var crd in CrdGenerator.All())
            await _client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(KubernetesYaml.Deserialize<V1CustomResourceDefinition>(CrdGenerator.ToYaml(crd)));
        await _client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team-a" } });
        var options = OperatorOptions.Parse(["--metrics-port", "0", "--leader-election-namespace", "default", "--identity", "op-test"], _ => null);
        _host = new OperatorHost(options, _client, NullLoggerFactory.Instance);
        _running = _host.RunAsync(_stop.Token);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        Assert.Equal(0, await _running);
        _client.Dispose();
        await _kube.DisposeAsync();
    }

    private Task Apply(string name, string specJson) => Create("ReidExperiment", "reidexperiments", name, specJson);

    private Task<ReidExperiment> Read(string name) => Read<ReidExperiment>("reidexperiments", name);

    private async Task Create(string kind, string plural, string name, string specJson)
    {
        var body = JsonNode.Parse($$"""{"apiVersion":"fastreid.io/v1alpha1","kind":"{{kind}}","metadata":{"name":"{{name}}","namespace":"team-a"},"spec":{{specJson}}}""")!;
        await _client.CustomObjects.CreateNamespacedCustomObjectAsync(body, ApiGroup.Group, ApiGroup.Version, "team-a", plural);
    }

    private async Task<T> Read<T>(string plural, string name)
    {
        var body = await _client.CustomObjects.GetNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, "team-a", plural, name);
        return Kube.KubernetesClusterApi.ToJsonObject(body).Deserialize<T>(ApiJson.Options)!;
    }

    private static async Task<T> Eventually<T>(Func<Task<T?>> probe, string what, int timeoutMs = 20_000) where T : class
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            if (await probe() is { } found) return found;
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    private const string TwoByFour = """
        {"dataset":{"name":"Market1501","uri":"s3://datasets/market1501"},
         "config":{"MODEL":{"BACKBONE":{"DEPTH":"50x"}},"SOLVER":{"BASE_LR":0.00035}},
         "resources":{"nodes":2,"gpusPerNode":4,"cpu":8,"memory":"32Gi"},
         "output":{"uri":"s3://models/exp1","endpoint":"http://minio:9000","secretRef":{"name":"s3-creds"}}}
        """;

    [Fact]
    public async Task Two_nodes_by_four_gpus_run_to_success_with_metrics_in_status()
    {
        await Apply("exp1", TwoByFour);
        var job = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.SingleOrDefault(), "the Job");
        var run = job.Metadata.Name;
        Assert.Equal(("Indexed", 2, 2), (job.Spec.CompletionMode, job.Spec.Completions, job.Spec.Parallelism));
        var env = job.Spec.Template.Spec.Containers[0].Env.ToDictionary(e => e.Name);
        Assert.Equal("8", env["WORLD_SIZE"].Value);
        Assert.Equal($"{run}-0.{run}.team-a.svc", env["MASTER_ADDR"].Value);
        Assert.Equal("4", job.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"].ToString());
        var service = await _client.CoreV1.ReadNamespacedServiceAsync(run, "team-a");
        Assert.Equal("None", service.Spec.ClusterIP);
        var configMap = await _client.CoreV1.ReadNamespacedConfigMapAsync(run, "team-a");
        Assert.Contains("OUTPUT_DIR: 's3://models/exp1'", configMap.Data["config.yaml"]);

        var pods = await Eventually(async () =>
        {
            var list = (await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/run=" + run)).Items;
            return list.Count == 2 ? list : null;
        }, "two pods");
        foreach (var pod in pods) _kube.Kubelet.Start("team-a", pod.Metadata.Name);
        await Eventually(async () => (await Read("exp1")).Status?.Phase == Phases.Running ? "" : null, "phase Running");

        foreach (var pod in pods.OrderByDescending(p => p.Metadata.Name))
        {
            bool rankZero = pod.Metadata.Annotations["batch.kubernetes.io/job-completion-index"] == "0";
            _kube.Kubelet.Finish("team-a", pod.Metadata.Name, 0, rankZero
                ? """{"status":"Succeeded","metrics":{"mAP":0.861,"rank1":0.942,"rank5":0.978,"rank10":0.985,"mINP":0.61},"artefacts":{"model":"s3://models/exp1/model_final.pth"}}"""
                : """{"status":"Succeeded"}""");
        }
        var done = await Eventually(async () => await Read("exp1") is { Status.Phase: Phases.Succeeded } e ? e : null, "phase Succeeded");
        Assert.Equal(0.861, done.Status!.Metrics!.MAP);
        Assert.Equal("s3://models/exp1/model_final.pth", done.Status.Artefacts!.Model);
        Assert.Equal(1, done.Status.ObservedGeneration);
        // Events are recorded after the status write: wait for the last one.
        var events = await Eventually(async () =>
        {
            var reasons = (await _client.CoreV1.ListNamespacedEventAsync("team-a")).Items.Where(e => e.InvolvedObject.Kind == "ReidExperiment").Select(e => e.Reason).ToList();
            return reasons.Contains("Succeeded") ? reasons : null;
        }, "the Succeeded event");
        Assert.Contains("Created", events);
    }

    [Fact]
    public async Task An_unknown_config_key_is_named_in_a_condition_and_no_job_is_made()
    {
        await Apply("typo", TwoByFour.Replace("\"DEPTH\"", "\"DEPHT\"", StringComparison.Ordinal));
        var invalid = await Eventually(async () => Conditions.Find((await Read("typo")).Status?.Conditions, ConditionTypes.InvalidSpec), "InvalidSpec");
        Assert.Equal("True", invalid.Status);
        Assert.Contains("spec.config.MODEL.BACKBONE.DEPHT", invalid.Message);
        Assert.Contains("MODEL.BACKBONE.DEPTH", invalid.Message);
        await _kube.WaitForControllersAsync();
        Assert.Empty((await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items);
    }

    [Fact]
    public async Task The_api_server_rejects_what_the_crd_schema_forbids()
    {
        var error = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => Apply("zero", TwoByFour.Replace("\"nodes\":2", "\"nodes\":0", StringComparison.Ordinal)));
        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, error.Response.StatusCode);
        Assert.Contains("spec.resources.nodes", error.Response.Content);
    }

    [Fact]
    public async Task Expired_and_dropped_watches_do_not_stop_the_operator()
    {
        await Apply("first", TwoByFour);
        await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.SingleOrDefault(), "the first Job");
        _kube.Faults.ExpireNextWatch();
        _kube.Faults.DropWatches();
        await Apply("second", TwoByFour.Replace("models/exp1", "models/second", StringComparison.Ordinal));
        await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.Count == 2 ? "" : null, "the second Job");
    }

    [Fact]
    public async Task A_trainer_usage_error_fails_the_run_without_retries()
    {
        await Apply("usage", TwoByFour.Replace("\"nodes\":2", "\"nodes\":1", StringComparison.Ordinal));
        var pod = await Eventually(async () => (await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/experiment=usage")).Items.SingleOrDefault(), "the pod");
        _kube.Kubelet.Finish("team-a", pod.Metadata.Name, 2, "fastreid train: option --config needs a value");
        var failed = await Eventually(async () => await Read("usage") is { Status.Phase: Phases.Failed } e ? e : null, "phase Failed");
        var condition = Conditions.Find(failed.Status!.Conditions, ConditionTypes.Failed)!;
        Assert.Contains("option --config needs a value", condition.Message);
        await _kube.WaitForControllersAsync();
        Assert.Single((await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/experiment=usage")).Items);
    }

    private async Task<ReidExperiment> FinishSuccessfully(string name)
    {
        var pod = await Eventually(async () => (await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/experiment=" + name)).Items
            .FirstOrDefault(p => p.Status?.Phase is null or "Pending"), "a pod");
        _kube.Kubelet.Finish("team-a", pod.Metadata.Name, 0, """{"status":"Succeeded","metrics":{"mAP":0.5,"rank1":0.6}}""");
        return await Eventually(async () => await Read(name) is { Status.Phase: Phases.Succeeded } e ? e : null, "phase Succeeded");
    }

    [Fact]
    public async Task Ttl_removes_the_children_and_keeps_the_status()
    {
        await Apply("short", TwoByFour.Replace("\"nodes\":2", "\"nodes\":1", StringComparison.Ordinal)
            .Replace("\"output\"", "\"runPolicy\":{\"ttlSecondsAfterFinished\":1},\"output\"", StringComparison.Ordinal));
        await FinishSuccessfully("short");
        await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.Count == 0
            && (await _client.CoreV1.ListNamespacedConfigMapAsync("team-a", labelSelector: "fastreid.io/experiment=short")).Items.Count == 0
            && (await _client.CoreV1.ListNamespacedServiceAsync("team-a")).Items.Count == 0 ? "" : null, "children removed");
        await Task.Delay(500); // a deliberate "nothing happens within 0.5 s" check: no Job comes back after the TTL cleanup
        var after = await Read("short");
        Assert.Equal(Phases.Succeeded, after.Status!.Phase);
        Assert.Equal(0.5, after.Status.Metrics!.MAP);
        Assert.Empty((await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items); // and nothing is retrained
    }

    [Fact]
    public async Task A_spec_change_after_success_retrains_in_a_new_job()
    {
        await Apply("gitops", TwoByFour.Replace("\"nodes\":2", "\"nodes\":1", StringComparison.Ordinal));
        var first = await FinishSuccessfully("gitops");
        var patch = new V1Patch("""{"spec":{"config":{"SOLVER":{"BASE_LR":0.0007}}}}""", V1Patch.PatchType.MergePatch);
        await _client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, ApiGroup.Group, ApiGroup.Version, "team-a", "reidexperiments", "gitops");
        var retraining = await Eventually(async () => await Read("gitops") is { Status.ObservedGeneration: 2 } e ? e : null, "generation 2 observed");
        Assert.NotEqual(first.Status!.JobName, retraining.Status!.JobName);
        Assert.Null(retraining.Status.Metrics);
        var job = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.SingleOrDefault(j => j.Metadata.DeletionTimestamp is null && j.Metadata.Name == retraining.Status.JobName), "the new Job");
        var configMap = await _client.CoreV1.ReadNamespacedConfigMapAsync(job.Metadata.Name, "team-a");
        Assert.Contains("BASE_LR: 0.0007", configMap.Data["config.yaml"]);
        await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.Count == 1 ? "" : null, "the old Job gone");
    }
}
