using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace FastReid.KubeEmulator.Tests;

/// <summary>The Kubelet helper's pods that do not start, read back through kubectl as a controller would see them.</summary>
public sealed class KubeletTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>
{
    static string JobYaml(string ns, string name, string secret, bool init = false) => $$$$"""
        {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"{{{{name}}}}","namespace":"{{{{ns}}}}"},
         "spec":{"backoffLimit":0,"template":{"spec":{"restartPolicy":"Never",
           {{{{(init ? "\"initContainers\":[{\"name\":\"synth\",\"image\":\"fastreid:dev\"}]," : "")}}}}
           "containers":[{"name":"trainer","image":"fastreid:dev","env":[
             {"name":"AWS_ACCESS_KEY_ID","valueFrom":{"secretKeyRef":{"name":"{{{{secret}}}}","key":"AWS_ACCESS_KEY_ID"}}},
             {"name":"OPTIONAL","valueFrom":{"configMapKeyRef":{"name":"absent","key":"k","optional":true}}}]}] } } } }
        """;

    async Task<V1Pod> OnlyPod(string ns, string job)
    {
        await Eventually.True(() => kube.Client.CoreV1.ListNamespacedPod(ns, labelSelector: $"batch.kubernetes.io/job-name={job}").Items.Count == 1, $"the pod of {job}");
        return kube.Client.CoreV1.ListNamespacedPod(ns, labelSelector: $"batch.kubernetes.io/job-name={job}").Items.Single();
    }

    JsonNode PodJson(string ns, string pod) => JsonNode.Parse(kube.Kubectl.Run("get", "pod", pod, "-n", ns, "-o", "json").Ok().Stdout)!;

    [Fact]
    public async Task A_pod_whose_secret_is_missing_waits_in_create_container_config_error_as_a_kubelet_reports_it()
    {
        var ns = kube.Namespace("nosecret");
        kube.Kubectl.Apply(JobYaml(ns, "creds", "s3-creds")).Ok();
        var pod = await OnlyPod(ns, "creds");
        Assert.False(kube.Server.Kubelet.TryStart(ns, pod.Metadata.Name));
        var status = PodJson(ns, pod.Metadata.Name)["status"]!;
        Assert.Equal("Pending", (string?)status["phase"]);
        var waiting = status["containerStatuses"]![0]!["state"]!["waiting"]!;
        Assert.Equal(("CreateContainerConfigError", "secret \"s3-creds\" not found"), ((string?)waiting["reason"], (string?)waiting["message"]));

        kube.Kubectl.Run("create", "secret", "generic", "s3-creds", "-n", ns, "--from-literal=OTHER=x").Ok();
        Assert.False(kube.Server.Kubelet.TryStart(ns, pod.Metadata.Name));
        Assert.Equal($"couldn't find key AWS_ACCESS_KEY_ID in Secret {ns}/s3-creds",
            (string?)PodJson(ns, pod.Metadata.Name)["status"]!["containerStatuses"]![0]!["state"]!["waiting"]!["message"]);

        kube.Kubectl.Run("delete", "secret", "s3-creds", "-n", ns).Ok();
        kube.Kubectl.Run("create", "secret", "generic", "s3-creds", "-n", ns, "--from-literal=AWS_ACCESS_KEY_ID=x").Ok();
        Assert.True(kube.Server.Kubelet.TryStart(ns, pod.Metadata.Name)); // the optional ConfigMap may be missing
        Assert.Equal("Running", (string?)PodJson(ns, pod.Metadata.Name)["status"]!["phase"]);
    }

    [Fact]
    public async Task Unschedulable_and_image_pull_states_read_back_as_the_scheduler_and_kubelet_write_them()
    {
        var ns = kube.Namespace("stuck");
        kube.Kubectl.Apply(JobYaml(ns, "gpu", "s3-creds", init: true)).Ok();
        var pod = (await OnlyPod(ns, "gpu")).Metadata.Name;

        kube.Server.Kubelet.Unschedulable(ns, pod, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.");
        var scheduled = PodJson(ns, pod)["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "PodScheduled")!;
        Assert.Equal(("False", "Unschedulable", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."),
            ((string?)scheduled["status"], (string?)scheduled["reason"], (string?)scheduled["message"]));

        kube.Server.Kubelet.Wait(ns, pod, "synth", "ImagePullBackOff", "Back-off pulling image \"fastreid:dev\"");
        var status = PodJson(ns, pod)["status"]!;
        Assert.Equal("ImagePullBackOff", (string?)status["initContainerStatuses"]![0]!["state"]!["waiting"]!["reason"]);
        Assert.Equal("PodInitializing", (string?)status["containerStatuses"]![0]!["state"]!["waiting"]!["reason"]);
        Assert.Equal("True", (string?)status["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "PodScheduled")!["status"]);
    }

    [Fact]
    public async Task A_failed_init_container_fails_the_pod_and_the_job_counts_it()
    {
        var ns = kube.Namespace("initfail");
        kube.Kubectl.Apply(JobYaml(ns, "synth", "s3-creds", init: true)).Ok();
        var pod = (await OnlyPod(ns, "synth")).Metadata.Name;
        kube.Server.Kubelet.FailInit(ns, pod, "synth", 1, "fastreid data synth: out of space");
        kube.Kubectl.Run("wait", "--for=condition=Failed", "job/synth", "-n", ns, "--timeout=10s").Ok();
        var status = PodJson(ns, pod)["status"]!;
        Assert.Equal("Failed", (string?)status["phase"]);
        var terminated = status["initContainerStatuses"]![0]!["state"]!["terminated"]!;
        Assert.Equal((1, "fastreid data synth: out of space"), ((int)terminated["exitCode"]!, (string?)terminated["message"]));
        Assert.Equal("PodInitializing", (string?)status["containerStatuses"]![0]!["state"]!["waiting"]!["reason"]);
    }
}
