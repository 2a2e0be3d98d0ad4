using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using k8s;

namespace FastReid.Operator.Tests;

/// <summary>
/// Children the API server refuses as invalid, through the operator host, the emulator and the real kubectl: the
/// owner ends Failed with the server's message in its status, and the refused child is not sent again.
/// </summary>
public sealed partial class EmulatorTests
{
    private static string ExperimentManifest(string name) => $$"""
        apiVersion: fastreid.io/v1alpha1
        kind: ReidExperiment
        metadata: {name: {{name}}, namespace: team-a}
        spec:
          dataset: {name: Market1501, uri: s3://datasets/market1501}
          resources: {nodes: 1}
          output: {uri: s3://models/{{name}}}
        """;

    /// <summary>The ReidExperiment reconciles that ended without error so far (each look the operator took at one).</summary>
    private double ExperimentLooks => _host.Metrics.Reconciles.WithLabels("ReidExperiment", "success").Value;

    [Fact]
    public async Task A_job_an_admission_policy_denies_fails_the_experiment_with_the_servers_message_and_is_not_sent_again()
    {
        const string name = "denied";
        _kube.Policies.Deny("trainer-registry", "jobs", _ => "trainer images must come from registry.corp/");
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, ExperimentManifest(name));
            await Eventually(async () => (await Read(name)).Status?.Phase == Phases.Failed ? "" : null, "phase Failed");
            var status = JsonNode.Parse(await kubectl(["get", "rexp", name, "-n", "team-a", "-o", "json"]))!["status"]!;
            var failed = status["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == ConditionTypes.Failed)!;
            Assert.Equal(("True", StatusUpdates.ChildRejected), (failed["status"]!.GetValue<string>(), failed["reason"]!.GetValue<string>()));
            Assert.Contains("the API server rejected create Job/denied-", failed["message"]!.GetValue<string>());
            Assert.Contains("is forbidden: ValidatingAdmissionPolicy 'trainer-registry' with binding 'trainer-registry-binding' denied request: trainer images must come from registry.corp/",
                failed["message"]!.GetValue<string>());
            await EventsOf("ReidExperiment", name, StatusUpdates.ChildRejected);

            // A change of a child (the run's ConfigMap, made before the Job) wakes the experiment: it looks, and sends nothing.
            var looks = ExperimentLooks;
            var configMap = (await _client.CoreV1.ListNamespacedConfigMapAsync("team-a", labelSelector: "fastreid.io/experiment=" + name)).Items.Single();
            await kubectl(["label", "configmap", configMap.Metadata.Name, "-n", "team-a", "touched=yes"]);
            await Eventually(() => Task.FromResult(ExperimentLooks > looks ? "" : null), "a look after the child changed");
            Assert.Equal(1, _kube.Policies.Evaluations("trainer-registry"));
            Assert.Empty((await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items);
            return "";
        });
    }

    [Fact]
    public async Task A_trial_the_server_refuses_fails_the_sweep_with_reason_child_rejected()
    {
        const string sweep = "refused-sweep";
        _kube.Policies.Deny("trial-quota", "reidexperiments", trial =>
            trial["metadata"]?["labels"]?["fastreid.io/sweep"] is not null ? "sweeps may not start trials in team-a" : null);
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, SweepManifest(sweep, maxTrials: 3));
            var failed = await Eventually(async () => Conditions.Find((await ReadSweep(sweep)).Status?.Conditions, ConditionTypes.Failed), "the sweep Failed");
            Assert.Equal(("True", StatusUpdates.ChildRejected), (failed.Status, failed.Reason));
            Assert.Contains("denied request: sweeps may not start trials in team-a", failed.Message);
            Assert.Equal(Phases.Failed, await kubectl(["get", "sweep", sweep, "-n", "team-a", "-o", "jsonpath={.status.phase}"]));
            await EventsOf("TuneSweep", sweep, StatusUpdates.ChildRejected);
            Assert.Empty(await ChildrenOfSweep(sweep));
            Assert.Equal(1, _kube.Policies.Evaluations("trial-quota"));
            return "";
        });
    }

    [Fact]
    public async Task Kubectl_apply_refuses_a_secret_key_name_and_an_image_the_api_server_would_refuse_in_the_job()
    {
        await WithKubectl(async (kubectl, dir) =>
        {
            var manifest = ExperimentManifest("early").Replace("output: {uri: s3://models/early}",
                "output: {uri: s3://models/early, secretRef: {name: s3-creds, accessKeyIdKey: AWS ACCESS KEY}}\n  resources: {nodes: 1, image: \"trainer:1 \"}", StringComparison.Ordinal)
                .Replace("  resources: {nodes: 1}\n", "", StringComparison.Ordinal);
            var file = Path.Combine(dir, "early.yaml");
            File.WriteAllText(file, manifest);
            var (code, _, error) = await Packaging.Repo.Kubectl(Path.Combine(dir, "kubeconfig"), Path.Combine(dir, "cache"), "apply", "-f", file);
            Assert.NotEqual(0, code);
            Assert.Contains("spec.output.secretRef.accessKeyIdKey", error);
            Assert.Contains("spec.resources.image", error);
            Assert.Empty((await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items);
            return "";
        });
    }
}
