using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using k8s;

namespace FastReid.Operator.Tests;

/// <summary>Trainer pods that cannot start, through the operator host, the emulator's kubelet and the real kubectl.</summary>
public sealed partial class EmulatorTests
{
    /// <summary>A one-node experiment whose pods read S3 credentials from Secret s3-creds, which the tests never create.</summary>
    private static string NoSecretManifest(string name, string runPolicy) => $$$"""
        apiVersion: fastreid.io/v1alpha1
        kind: ReidExperiment
        metadata: {name: {{{name}}}, namespace: team-a}
        spec:
          dataset: {name: Market1501, uri: s3://datasets/market1501}
          resources: {nodes: 1}
          output: {uri: s3://models/{{{name}}}, endpoint: http://minio:9000, secretRef: {name: s3-creds}}
          runPolicy: {{{runPolicy}}}
        """;

    private static JsonObject? ConditionIn(JsonNode experiment, string type) =>
        experiment["status"]?["conditions"]?.AsArray().FirstOrDefault(c => (string?)c?["type"] == type)?.AsObject();

    [Fact]
    public async Task A_pod_whose_secret_is_missing_shows_the_kubelets_reason_in_kubectl_get_reidexperiment()
    {
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, NoSecretManifest("nosecret", "{}"));
            var pod = await PendingPodOf("nosecret");
            Assert.False(_kube.Kubelet.TryStart("team-a", pod.Metadata.Name)); // the kubelet cannot build the trainer's env

            var experiment = await Eventually(async () => JsonNode.Parse(await kubectl(["get", "reidexperiment", "nosecret", "-n", "team-a", "-o", "json"])) is var e
                && (string?)ConditionIn(e!, ConditionTypes.PodsReady)?["reason"] == "CreateContainerConfigError" ? e : null, "PodsReady naming the kubelet's reason");
            var ready = ConditionIn(experiment, ConditionTypes.PodsReady)!;
            Assert.Equal("False", (string?)ready["status"]);
            Assert.Equal($"pod {pod.Metadata.Name}, container trainer: CreateContainerConfigError: secret \"s3-creds\" not found", (string?)ready["message"]);
            Assert.Equal(Phases.Pending, (string?)experiment["status"]!["phase"]);
            var warning = (await EventsOf("ReidExperiment", "nosecret", "CreateContainerConfigError")).First(e => e.Reason == "CreateContainerConfigError");
            Assert.Equal(("Warning", (string?)ready["message"]), (warning.Type, warning.Message));
            return 0;
        });
    }

    [Fact]
    public async Task A_stuck_pod_past_its_pending_deadline_fails_the_run_and_its_job_and_pods_are_deleted()
    {
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, NoSecretManifest("deadline", "{pendingDeadlineSeconds: 1}"));
            var pod = await PendingPodOf("deadline");
            Assert.False(_kube.Kubelet.TryStart("team-a", pod.Metadata.Name));

            var experiment = await Eventually(async () => JsonNode.Parse(await kubectl(["get", "rexp", "deadline", "-n", "team-a", "-o", "json"])) is var e
                && (string?)e!["status"]?["phase"] == Phases.Failed ? e : null, "phase Failed");
            var failed = ConditionIn(experiment, ConditionTypes.Failed)!;
            Assert.Equal("CreateContainerConfigError", (string?)failed["reason"]);
            Assert.Equal($"pod {pod.Metadata.Name}, container trainer: CreateContainerConfigError: secret \"s3-creds\" not found; " +
                "not started within 1s (runPolicy.pendingDeadlineSeconds): its Job is deleted", (string?)failed["message"]);
            await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.Count == 0
                && (await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/experiment=deadline")).Items.Count == 0 ? "" : null, "the Job and its pod gone");
            await _kube.WaitForControllersAsync();
            Assert.Equal(Phases.Failed, (await Read("deadline")).Status!.Phase);
            Assert.Empty((await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items); // and no new run is started
            return 0;
        });
    }
}
