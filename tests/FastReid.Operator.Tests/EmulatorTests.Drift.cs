using k8s;
using k8s.Models;

namespace FastReid.Operator.Tests;

/// <summary>Children deleted or edited by hand are put back by the operator, woken by the child's own change.</summary>
public sealed partial class EmulatorTests
{
    private const string OneNode = """
        {"dataset":{"name":"Market1501","uri":"s3://datasets/market1501"},
         "resources":{"nodes":1},
         "output":{"uri":"s3://models/drift","endpoint":"http://minio:9000","secretRef":{"name":"s3-creds"}}}
        """;

    /// <summary>The active run's Job, once its ConfigMap and Service exist too.</summary>
    private async Task<V1Job> ActiveRun(string name)
    {
        await Apply(name, OneNode);
        var job = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=" + name)).Items.SingleOrDefault(), "the Job");
        await Eventually(async () => await ConfigMapOf(job.Metadata.Name) is not null && await ServiceOf(job.Metadata.Name) is not null ? "" : null, "the ConfigMap and Service");
        return job;
    }

    private async Task<V1ConfigMap?> ConfigMapOf(string run) =>
        (await _client.CoreV1.ListNamespacedConfigMapAsync("team-a", fieldSelector: "metadata.name=" + run)).Items.SingleOrDefault();

    private async Task<V1Service?> ServiceOf(string run) =>
        (await _client.CoreV1.ListNamespacedServiceAsync("team-a", fieldSelector: "metadata.name=" + run)).Items.SingleOrDefault();

    [Fact]
    public async Task A_config_map_and_a_service_deleted_by_hand_are_created_again()
    {
        var run = (await ActiveRun("lost")).Metadata.Name;
        var configMap = (await ConfigMapOf(run))!;
        var service = (await ServiceOf(run))!;
        await _client.CoreV1.DeleteNamespacedConfigMapAsync(run, "team-a");
        await _client.CoreV1.DeleteNamespacedServiceAsync(run, "team-a");

        var again = await Eventually(async () => await ConfigMapOf(run) is { } c && c.Metadata.Uid != configMap.Metadata.Uid ? c : null, "the ConfigMap created again");
        Assert.Equal(configMap.Data, again.Data);
        var service2 = await Eventually(async () => await ServiceOf(run) is { } s && s.Metadata.Uid != service.Metadata.Uid ? s : null, "the Service created again");
        Assert.Equal("None", service2.Spec.ClusterIP);
    }

    [Fact]
    public async Task A_config_map_edited_by_hand_is_restored()
    {
        var run = (await ActiveRun("edited")).Metadata.Name;
        var planned = (await ConfigMapOf(run))!.Data["config.yaml"];
        await _client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"data":{"config.yaml":"SOLVER:\n  BASE_LR: 1.0\n","extra.yaml":"x: 1"}}""", V1Patch.PatchType.MergePatch), run, "team-a");

        var restored = await Eventually(async () => await ConfigMapOf(run) is { } c && c.Data.Count == 1 && c.Data["config.yaml"] == planned ? c : null, "the ConfigMap restored");
        Assert.Equal(["config.yaml"], restored.Data.Keys);
    }

    [Fact]
    public async Task A_deleted_job_of_an_active_run_is_created_again()
    {
        var job = await ActiveRun("rerun");
        await _client.BatchV1.DeleteNamespacedJobAsync(job.Metadata.Name, "team-a", propagationPolicy: "Background");

        var again = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=rerun")).Items
            .SingleOrDefault(j => j.Metadata.Uid != job.Metadata.Uid && j.Metadata.DeletionTimestamp is null), "the Job created again");
        Assert.Equal(job.Metadata.Name, again.Metadata.Name);
        Assert.Equal(job.Spec.Template.Spec.Containers[0].Args, again.Spec.Template.Spec.Containers[0].Args);
    }
}
