using k8s;

namespace FastReid.KubeEmulator.Tests;

/// <summary>
/// What a real apiserver refuses in the objects an operator derives (Secret key names, label values, images), in
/// its words and with 422 Invalid, and the cluster's own admission policies, seen through kubectl.
/// </summary>
public sealed class ObjectRulesTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>
{
    static string Job(string ns, string name, string image = "busybox:1.36", string secretKey = "AWS_ACCESS_KEY_ID", string team = "reid") => $$"""
        apiVersion: batch/v1
        kind: Job
        metadata: {name: {{name}}, namespace: {{ns}}}
        spec:
          template:
            metadata:
              labels:
                team: "{{team}}"
            spec:
              restartPolicy: Never
              containers:
              - name: trainer
                image: "{{image}}"
                env:
                - name: AWS_ACCESS_KEY_ID
                  valueFrom:
                    secretKeyRef:
                      name: s3-creds
                      key: "{{secretKey}}"
        """;

    [Fact]
    public void A_secret_key_ref_with_an_invalid_key_name_is_invalid()
    {
        var ns = kube.Namespace("secret-key");
        var refused = kube.Kubectl.Apply(Job(ns, "train", secretKey: "AWS ACCESS KEY")).Fails();
        Assert.Contains("is invalid", refused.Stderr);
        Assert.Contains("spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: Invalid value: \"AWS ACCESS KEY\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'", refused.Stderr);
        Assert.NotEqual(0, kube.Kubectl.Run("get", "job", "train", "-n", ns).ExitCode);
        kube.Kubectl.Apply(Job(ns, "train", secretKey: "aws.access-key_id")).Ok();
    }

    [Fact]
    public void A_label_value_over_63_characters_is_invalid_in_metadata_and_in_a_pod_template()
    {
        var ns = kube.Namespace("label");
        var long64 = new string('a', 64);
        var configMap = kube.Kubectl.Run("create", "configmap", "c", "-n", ns, "--from-literal=k=v", "--dry-run=client", "-o", "yaml").Ok().Stdout
            .Replace("metadata:", $"metadata:\n  labels: {{owner: {long64}}}", StringComparison.Ordinal);
        var refused = kube.Kubectl.Apply(configMap).Fails();
        Assert.Contains($"metadata.labels: Invalid value: \"{long64}\": must be no more than 63 characters", refused.Stderr);

        var template = kube.Kubectl.Apply(Job(ns, "train", team: long64)).Fails();
        Assert.Contains($"spec.template.metadata.labels: Invalid value: \"{long64}\": must be no more than 63 characters", template.Stderr);
        var badAlphabet = kube.Kubectl.Apply(Job(ns, "train", team: "-reid")).Fails();
        Assert.Contains("a valid label must be an empty string or consist of alphanumeric characters", badAlphabet.Stderr);
    }

    [Fact]
    public async Task An_image_with_surrounding_whitespace_is_refused_in_a_pod_but_stored_in_a_job_whose_pods_fail_to_create()
    {
        var ns = kube.Namespace("image");
        var pod = $$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: p, namespace: {{ns}}}
            spec: {containers: [{name: c, image: "busybox:1.36 "}]}
            """;
        var refused = kube.Kubectl.Apply(pod).Fails();
        Assert.Contains("spec.containers[0].image: Invalid value: \"busybox:1.36 \": must not have leading or trailing whitespace", refused.Stderr);

        kube.Kubectl.Apply(Job(ns, "train", image: "busybox:1.36 ")).Ok();
        await Eventually.True(() => kube.Kubectl.Run("get", "events", "-n", ns, "--field-selector", "reason=FailedCreate", "-o", "jsonpath={.items[*].message}").Ok().Stdout
            .Contains("must not have leading or trailing whitespace", StringComparison.Ordinal), "the Job controller's FailedCreate event");
        Assert.Empty((await kube.Client.CoreV1.ListNamespacedPodAsync(ns)).Items);
    }

    [Fact]
    public void An_admission_policy_denies_with_422_in_ValidatingAdmissionPolicys_words_and_counts_what_it_saw()
    {
        var ns = kube.Namespace("policy");
        kube.Server.Policies.Deny("registry-" + ns, "jobs", job =>
            job["metadata"]?["namespace"]?.GetValue<string>() == ns && job.ToJsonString().Contains("busybox", StringComparison.Ordinal)
                ? "images must come from registry.corp" : null);
        var refused = kube.Kubectl.Apply(Job(ns, "train")).Fails();
        Assert.Contains($"ValidatingAdmissionPolicy 'registry-{ns}' with binding 'registry-{ns}-binding' denied request: images must come from registry.corp", refused.Stderr);
        Assert.Equal(1, kube.Server.Policies.Evaluations("registry-" + ns));
        kube.Kubectl.Apply(Job(ns, "train", image: "registry.corp/trainer:1")).Ok();
        Assert.Equal(2, kube.Server.Policies.Evaluations("registry-" + ns));
    }
}
