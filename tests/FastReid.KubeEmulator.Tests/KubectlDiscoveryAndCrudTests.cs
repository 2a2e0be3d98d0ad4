namespace FastReid.KubeEmulator.Tests;

/// <summary>Discovery and the everyday kubectl verbs on built-in kinds.</summary>
public sealed class KubectlDiscoveryAndCrudTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>
{
    [Fact]
    public void Version_and_api_resources_list_the_served_kinds()
    {
        Assert.Contains("Server Version: v1.32", kube.Kubectl.Run("version").Ok().Stdout);
        var resources = kube.Kubectl.Run("api-resources").Ok().Stdout;
        foreach (var expected in new[] { "pods", "services", "configmaps", "secrets", "namespaces", "jobs", "leases", "customresourcedefinitions", "events.k8s.io/v1" })
            Assert.Contains(expected, resources);
        Assert.Contains("batch/v1", kube.Kubectl.Run("api-versions").Ok().Stdout);
    }

    [Fact]
    public void Apply_create_replace_patch_label_delete_round_trip()
    {
        var ns = kube.Namespace("crud");
        var cm = $"""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
              namespace: {ns}
            data:
              lr: "0.1"
            """;
        Assert.Contains("configmap/settings created", kube.Kubectl.Apply(cm).Ok().Stdout);
        Assert.Contains("configmap/settings unchanged", kube.Kubectl.Apply(cm).Ok().Stdout);
        Assert.Contains("configmap/settings configured", kube.Kubectl.Apply(cm.Replace("0.1", "0.2")).Ok().Stdout);
        Assert.Equal("0.2", kube.Kubectl.Run("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data.lr}").Ok().Stdout);

        kube.Kubectl.Run("patch", "cm", "settings", "-n", ns, "--type=merge", "-p", """{"data":{"epochs":"3"}}""").Ok();
        kube.Kubectl.Run("patch", "cm", "settings", "-n", ns, "--type=json", "-p", """[{"op":"replace","path":"/data/lr","value":"0.3"},{"op":"remove","path":"/data/epochs"}]""").Ok();
        Assert.Equal("{\"lr\":\"0.3\"}", kube.Kubectl.Run("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data}").Ok().Stdout);
        var failedTest = kube.Kubectl.Run("patch", "cm", "settings", "-n", ns, "--type=json", "-p", """[{"op":"test","path":"/data/lr","value":"9"}]""").Fails();
        Assert.Contains("testing value /data/lr failed", failedTest.Stderr);

        kube.Kubectl.Run("label", "cm", "settings", "-n", ns, "tier=gold").Ok();
        Assert.Contains("already has a value", kube.Kubectl.Run("label", "cm", "settings", "-n", ns, "tier=silver").Fails().Stderr);
        kube.Kubectl.Run("label", "cm", "settings", "-n", ns, "tier=silver", "--overwrite").Ok();
        Assert.Equal("silver", kube.Kubectl.Run("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.metadata.labels.tier}").Ok().Stdout);

        var replaced = kube.Kubectl.RunWithInput($$$$"""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"{{{{ns}}}}"},"data":{"only":"this"}}
            """, "replace", "-f", "-").Ok();
        Assert.Contains("replaced", replaced.Stdout);
        Assert.Equal("{\"only\":\"this\"}", kube.Kubectl.Run("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data}").Ok().Stdout);

        Assert.Contains("deleted", kube.Kubectl.Run("delete", "cm", "settings", "-n", ns).Ok().Stdout);
        var missing = kube.Kubectl.Run("get", "cm", "settings", "-n", ns).Fails();
        Assert.Contains("Error from server (NotFound): configmaps \"settings\" not found", missing.Stderr);
    }

    [Fact]
    public void Create_reports_already_exists_and_invalid_objects_as_the_apiserver_does()
    {
        var ns = kube.Namespace("errors");
        kube.Kubectl.Run("create", "configmap", "dup", "-n", ns, "--from-literal=a=b").Ok();
        Assert.Contains("configmaps \"dup\" already exists",
            kube.Kubectl.Run("create", "configmap", "dup", "-n", ns, "--from-literal=a=b").Fails().Stderr);

        var invalidPod = kube.Kubectl.Apply($$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name","namespace":"{{{{ns}}}}"},"spec":{"containers":[{"name":"c","image":"x"}]}}
            """).Fails();
        Assert.Contains("is invalid", invalidPod.Stderr);
        Assert.Contains("metadata.name", invalidPod.Stderr);

        var noImage = kube.Kubectl.Apply($$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"noimage","namespace":"{{{{ns}}}}"},"spec":{"containers":[{"name":"c"}]}}
            """).Fails();
        Assert.Contains("spec.containers[0].image: Required value", noImage.Stderr);

        var typo = $$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"typo","namespace":"{{{{ns}}}}"},"spec":{"containers":[{"name":"c","image":"x","imagePolicy":"Always"}]}}
            """;
        Assert.Contains("strict decoding error: unknown field \"spec.containers[0].imagePolicy\"", kube.Kubectl.Apply(typo).Fails().Stderr);
        Assert.Contains("Warning: unknown field \"spec.containers[0].imagePolicy\"", kube.Kubectl.RunWithInput(typo, "apply", "--validate=warn", "-f", "-").Ok().Stderr);
        // Warn (and Ignore) store the object without the unknown field, as decoding into the Go struct does.
        Assert.Equal("x|", kube.Kubectl.Run("get", "pod", "typo", "-n", ns, "-o", "jsonpath={.spec.containers[0].image}|{.spec.containers[0].imagePolicy}").Ok().Stdout);

        Assert.Contains("namespaces \"nowhere\" not found", kube.Kubectl.Run("create", "configmap", "x", "-n", "nowhere").Fails().Stderr);
    }

    [Fact]
    public void Secrets_fold_stringData_into_base64_data_and_generateName_makes_unique_names()
    {
        var ns = kube.Namespace("secret");
        kube.Kubectl.Run("create", "secret", "generic", "s3-creds", "-n", ns, "--from-literal=accessKey=minio").Ok();
        Assert.Equal("bWluaW8=", kube.Kubectl.Run("get", "secret", "s3-creds", "-n", ns, "-o", "jsonpath={.data.accessKey}").Ok().Stdout);
        kube.Kubectl.Apply($$$$"""
            {"apiVersion":"v1","kind":"Secret","metadata":{"name":"plain","namespace":"{{{{ns}}}}"},"stringData":{"k":"v"}}
            """).Ok();
        Assert.Equal("{\"k\":\"dg==\"}", kube.Kubectl.Run("get", "secret", "plain", "-n", ns, "-o", "jsonpath={.data}").Ok().Stdout);

        var generated = $$$$"""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"trial-","namespace":"{{{{ns}}}}"}}
            """;
        var first = kube.Kubectl.RunWithInput(generated, "create", "-f", "-", "-o", "name").Ok().Stdout.Trim();
        var second = kube.Kubectl.RunWithInput(generated, "create", "-f", "-", "-o", "name").Ok().Stdout.Trim();
        Assert.StartsWith("configmap/trial-", first);
        Assert.NotEqual(first, second);
        Assert.Equal("configmap/trial-".Length + 5, first.Length);
    }

    [Fact]
    public void Strategic_merge_patch_merges_containers_by_name()
    {
        var ns = kube.Namespace("smp");
        kube.Kubectl.Apply($$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"{{{{ns}}}}"},
             "spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}
            """).Ok();
        kube.Kubectl.Run("patch", "pod", "p", "-n", ns, "-p", """{"spec":{"containers":[{"name":"b","image":"b:2"}]}}""").Ok();
        Assert.Equal("a:1 b:2", kube.Kubectl.Run("get", "pod", "p", "-n", ns, "-o", "jsonpath={.spec.containers[*].image}").Ok().Stdout);
        // Pod specs are immutable apart from images: the apiserver's rule, reported as 422.
        var forbidden = kube.Kubectl.Run("patch", "pod", "p", "-n", ns, "-p", """{"spec":{"restartPolicy":"Never"}}""").Fails();
        Assert.Contains("pod updates may not change fields", forbidden.Stderr);
        // kubectl apply of a changed image goes through a strategic merge patch computed by kubectl.
        kube.Kubectl.Apply($$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"{{{{ns}}}}"},
             "spec":{"containers":[{"name":"a","image":"a:3"},{"name":"b","image":"b:2"}]}}
            """).Ok();
        Assert.Equal("a:3 b:2", kube.Kubectl.Run("get", "pod", "p", "-n", ns, "-o", "jsonpath={.spec.containers[*].image}").Ok().Stdout);
    }

    [Fact]
    public void An_operator_install_of_rbac_service_account_and_deployment_applies_and_reads_back()
    {
        var ns = kube.Namespace("install");
        var manifests = $"""
            apiVersion: v1
            kind: ServiceAccount
            metadata:
              name: fastreid-operator
              namespace: {ns}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: fastreid-operator-{ns}
            rules:
            - apiGroups: [fastreid.io]
              resources: [reidexperiments, reidexperiments/status]
              verbs: [get, list, watch, update, patch]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRoleBinding
            metadata:
              name: fastreid-operator-{ns}
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: ClusterRole
              name: fastreid-operator-{ns}
            subjects:
            - kind: ServiceAccount
              name: fastreid-operator
              namespace: {ns}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: fastreid-operator
              namespace: {ns}
            spec:
              replicas: 1
              selector:
                matchLabels:
                  app: fastreid-operator
              template:
                metadata:
                  labels:
                    app: fastreid-operator
                spec:
                  serviceAccountName: fastreid-operator
                  containers:
                  - name: operator
                    image: fastreid-operator:dev
            """;
        var applied = kube.Kubectl.Apply(manifests).Ok().Stdout;
        Assert.Contains("deployment.apps/fastreid-operator created", applied);
        Assert.Contains("clusterrolebinding.rbac.authorization.k8s.io/fastreid-operator-" + ns + " created", applied);
        Assert.Equal("fastreid-operator", kube.Kubectl.Run("get", "deploy", "fastreid-operator", "-n", ns, "-o", "jsonpath={.spec.template.spec.serviceAccountName}").Ok().Stdout);
        var mismatch = kube.Kubectl.Apply(manifests.Replace("matchLabels:\n      app: fastreid-operator", "matchLabels:\n      app: other")).Fails();
        Assert.Contains("`selector` does not match template `labels`", mismatch.Stderr);
    }

    [Fact]
    public void Services_get_a_cluster_ip_unless_headless_and_keep_it()
    {
        var ns = kube.Namespace("svc");
        kube.Kubectl.Apply($$$$"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"train","namespace":"{{{{ns}}}}"},
             "spec":{"clusterIP":"None","selector":{"batch.kubernetes.io/job-name":"train"},"ports":[{"name":"dist","port":29500}]}}
            """).Ok();
        Assert.Equal("None 29500 TCP", kube.Kubectl.Run("get", "svc", "train", "-n", ns, "-o",
            "jsonpath={.spec.clusterIP} {.spec.ports[0].targetPort} {.spec.ports[0].protocol}").Ok().Stdout);
        // kubectl's typed generators send protobuf; the emulator decodes these kinds.
        kube.Kubectl.Run("create", "service", "clusterip", "metrics", "-n", ns, "--tcp=8080:metrics").Ok();
        Assert.Equal("8080 metrics metrics", kube.Kubectl.Run("get", "svc", "metrics", "-n", ns, "-o",
            "jsonpath={.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.selector.app}").Ok().Stdout);
        kube.Kubectl.Run("create", "serviceaccount", "trainer", "-n", ns).Ok();
        kube.Kubectl.Run("create", "role", "reader", "-n", ns, "--verb=get,list", "--resource=pods").Ok();
        kube.Kubectl.Run("create", "rolebinding", "reader", "-n", ns, "--role=reader", $"--serviceaccount={ns}:trainer").Ok();
        Assert.Equal($"Role/reader ServiceAccount/{ns}/trainer", kube.Kubectl.Run("get", "rolebinding", "reader", "-n", ns, "-o",
            "jsonpath={.roleRef.kind}/{.roleRef.name} {.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name}").Ok().Stdout);
        Assert.Equal("get,list pods", kube.Kubectl.Run("get", "role", "reader", "-n", ns, "-o",
            "jsonpath={.rules[0].verbs[0]},{.rules[0].verbs[1]} {.rules[0].resources[0]}").Ok().Stdout);
        kube.Kubectl.Run("create", "job", "j", "-n", ns, "--image=x", "--", "train", "--epochs", "1").Ok();
        Assert.Equal("[\"train\",\"--epochs\",\"1\"] Never", kube.Kubectl.Run("get", "job", "j", "-n", ns, "-o",
            "jsonpath={.spec.template.spec.containers[0].command} {.spec.template.spec.restartPolicy}").Ok().Stdout);
        Assert.Contains("send apps/v1 Deployment as application/json", kube.Kubectl.Run("create", "deployment", "d", "-n", ns, "--image=x").Fails().Stderr);
        var ip = kube.Kubectl.Run("get", "svc", "metrics", "-n", ns, "-o", "jsonpath={.spec.clusterIP}").Ok().Stdout;
        Assert.Matches(@"^10\.96\.\d+\.\d+$", ip);
        Assert.Contains("spec.clusterIP: Invalid value: field is immutable",
            kube.Kubectl.Run("patch", "svc", "metrics", "-n", ns, "--type=merge", "-p", """{"spec":{"clusterIP":"10.96.9.9"}}""").Fails().Stderr);
        Assert.Contains("spec.ports[0].port", kube.Kubectl.Run("patch", "svc", "metrics", "-n", ns, "--type=json",
            "-p", """[{"op":"replace","path":"/spec/ports/0/port","value":70000}]""").Fails().Stderr);
    }

    [Fact]
    public void Deleting_a_namespace_removes_its_content_then_the_namespace()
    {
        var ns = kube.Namespace("doomed");
        kube.Kubectl.Run("create", "configmap", "a", "-n", ns).Ok();
        kube.Kubectl.Run("create", "secret", "generic", "b", "-n", ns).Ok();
        kube.Kubectl.Run("delete", "namespace", ns, "--wait=true", "--timeout=10s").Ok();
        Assert.Contains("NotFound", kube.Kubectl.Run("get", "namespace", ns).Fails().Stderr);
        Assert.Contains("may not be deleted", kube.Kubectl.Run("delete", "namespace", "default").Fails().Stderr);
    }
}
