using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Tests;

/// <summary>
/// What kubectl writes, kubectl must be able to apply and delete again: a <c>v1 List</c> (the shape of
/// <c>kubectl get -o json</c> for several objects), a multi-document YAML file, our own custom resources
/// mixed with built-ins. For a List kubectl validates every item against the server's OpenAPI v2 before
/// sending anything, so these also prove that a wrong field in a listed custom resource is still refused.
/// </summary>
public sealed class KubectlListTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>, IAsyncLifetime
{
    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastReid.K8s.sln"))) return dir.FullName;
        throw new InvalidOperationException("FastReid.K8s.sln not found above " + AppContext.BaseDirectory);
    }

    public Task InitializeAsync()
    {
        kube.Kubectl.Run("apply", "-f", Path.Combine(RepositoryRoot(), "crds", "fastreid.io_reidexperiments.yaml")).Ok();
        kube.Kubectl.Apply(TestManifests.WidgetCrd).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Established", "crd/widgets.example.io", "crd/reidexperiments.fastreid.io", "--timeout=10s").Ok();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    static JsonObject ConfigMap(string ns, string name, string lr) => new()
    {
        ["apiVersion"] = "v1", ["kind"] = "ConfigMap",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["data"] = new JsonObject { ["lr"] = lr },
    };

    static JsonObject Experiment(string ns, string name) => new()
    {
        ["apiVersion"] = "fastreid.io/v1alpha1", ["kind"] = "ReidExperiment",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject
        {
            ["dataset"] = new JsonObject { ["name"] = "Synthetic", ["synthetic"] = new JsonObject { ["identities"] = 8 } },
            ["config"] = new JsonObject { ["SOLVER"] = new JsonObject { ["MAX_EPOCH"] = 2 } },
        },
    };

    static JsonObject Widget(string ns, string name, int size) => new()
    {
        ["apiVersion"] = "example.io/v1", ["kind"] = "Widget",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject { ["size"] = size },
    };

    static string List(params JsonObject[] items) =>
        new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = new JsonArray(items) }.ToJsonString();

    string WriteFile(string name, string content)
    {
        var path = Path.Combine(kube.Directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void A_v1_list_applies_like_the_objects_it_holds()
    {
        var ns = kube.Namespace("list");
        var list = List(ConfigMap(ns, "a", "0.1"), ConfigMap(ns, "b", "0.2"));
        var created = kube.Kubectl.Apply(list).Ok().Stdout;
        Assert.Contains("configmap/a created", created);
        Assert.Contains("configmap/b created", created);
        Assert.Contains("configmap/a unchanged", kube.Kubectl.Apply(list).Ok().Stdout);
        Assert.Contains("configmap/b configured", kube.Kubectl.Apply(list.Replace("0.2", "0.3")).Ok().Stdout);
        Assert.Equal("0.1 0.3", kube.Kubectl.Run("get", "cm", "a", "b", "-n", ns, "-o", "jsonpath={.items[*].data.lr}").Ok().Stdout);
    }

    [Fact]
    public void A_multi_document_yaml_applies_every_document()
    {
        var ns = kube.Namespace("multidoc");
        var file = WriteFile($"{ns}.yaml", $"""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
              namespace: {ns}
            data:
              lr: "0.1"
            ---
            {TestManifests.Widget(ns, "w", 2)}
            ---
            apiVersion: fastreid.io/v1alpha1
            kind: ReidExperiment
            metadata:
              name: r18
              namespace: {ns}
            spec:
              dataset:
                name: Synthetic
            """);
        var applied = kube.Kubectl.Run("apply", "-f", file).Ok().Stdout;
        Assert.Contains("configmap/settings created", applied);
        Assert.Contains("widget.example.io/w created", applied);
        Assert.Contains("reidexperiment.fastreid.io/r18 created", applied);
        Assert.Equal("Synthetic", kube.Kubectl.Run("get", "rexp", "r18", "-n", ns, "-o", "jsonpath={.spec.dataset.name}").Ok().Stdout);
        Assert.Contains("widget.example.io \"w\" deleted", kube.Kubectl.Run("delete", "-f", file).Ok().Stdout);
        Assert.Contains("No resources found", kube.Kubectl.Run("get", "cm,widgets,rexp", "-n", ns).Ok().Stderr);
    }

    [Fact]
    public void A_list_of_our_custom_resources_and_a_configmap_applies_and_deletes()
    {
        var ns = kube.Namespace("mixed");
        var file = WriteFile($"{ns}.json", List(Experiment(ns, "r18"), Widget(ns, "w", 3), ConfigMap(ns, "settings", "0.1")));
        var applied = kube.Kubectl.Run("apply", "-f", file).Ok().Stdout;
        Assert.Contains("reidexperiment.fastreid.io/r18 created", applied);
        Assert.Contains("widget.example.io/w created", applied);
        Assert.Contains("configmap/settings created", applied);
        // The schema still defaulted and kept the preserved config tree.
        Assert.Equal("8 6 2", kube.Kubectl.Run("get", "rexp", "r18", "-n", ns, "-o",
            "jsonpath={.spec.dataset.synthetic.identities} {.spec.dataset.synthetic.cameras} {.spec.config.SOLVER.MAX_EPOCH}").Ok().Stdout);

        var deleted = kube.Kubectl.Run("delete", "-f", file).Ok().Stdout;
        Assert.Contains("reidexperiment.fastreid.io \"r18\" deleted", deleted);
        Assert.Contains("widget.example.io \"w\" deleted", deleted);
        Assert.Contains("configmap \"settings\" deleted", deleted);
        // kubectl delete waits for the objects to be gone (--wait defaults to true).
        var gone = kube.Kubectl.Run("get", "-f", file).Fails().Stderr;
        Assert.Contains("reidexperiments.fastreid.io \"r18\" not found", gone);
        Assert.Contains("widgets.example.io \"w\" not found", gone);
        Assert.Contains("configmaps \"settings\" not found", gone);
    }

    [Fact]
    public void Get_as_json_piped_to_apply_round_trips_and_carries_an_edit()
    {
        var ns = kube.Namespace("roundtrip");
        kube.Kubectl.Apply(List(ConfigMap(ns, "settings", "0.1"), Widget(ns, "w", 3), Experiment(ns, "r18"))).Ok();
        kube.Kubectl.Run("patch", "widget", "w", "-n", ns, "--subresource=status", "--type=merge", "-p", """{"status":{"phase":"Running"}}""").Ok();

        var exported = kube.Kubectl.Run("get", "cm,widgets,rexp", "-n", ns, "-o", "json").Ok().Stdout;
        var list = JsonNode.Parse(exported)!.AsObject();
        Assert.Equal("List", list["kind"]!.GetValue<string>());
        Assert.Equal(3, list["items"]!.AsArray().Count(i => i!["metadata"]!["name"]!.GetValue<string>() is "settings" or "w" or "r18"));

        var reapplied = kube.Kubectl.RunWithInput(exported, "apply", "-f", "-").Ok().Stdout;
        Assert.Matches(@"configmap/settings (unchanged|configured)", reapplied);
        Assert.Matches(@"widget.example.io/w (unchanged|configured)", reapplied);
        Assert.Matches(@"reidexperiment.fastreid.io/r18 (unchanged|configured)", reapplied);

        var edited = kube.Kubectl.Run("get", "cm,widgets", "-n", ns, "-o", "json").Ok().Stdout
            .Replace("\"lr\": \"0.1\"", "\"lr\": \"0.5\"").Replace("\"size\": 3", "\"size\": 4");
        kube.Kubectl.RunWithInput(edited, "apply", "-f", "-").Ok();
        Assert.Equal("0.5", kube.Kubectl.Run("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data.lr}").Ok().Stdout);
        Assert.Equal("4 Running", kube.Kubectl.Run("get", "widget", "w", "-n", ns, "-o", "jsonpath={.spec.size} {.status.phase}").Ok().Stdout);
    }

    [Fact]
    public void A_wrong_field_in_a_listed_custom_resource_is_refused_before_anything_is_applied()
    {
        var ns = kube.Namespace("badlist");
        var bad = Experiment(ns, "r18");
        bad["spec"]!["dataset"]!["nmae"] = "Market1501";
        var refused = kube.Kubectl.Apply(List(ConfigMap(ns, "settings", "0.1"), bad)).Fails().Stderr;
        // kubectl's own check against the published schema, as against a real apiserver: nothing is sent.
        Assert.Contains("unknown field \"nmae\"", refused);
        Assert.Contains("ReidExperiment", refused);
        Assert.Contains("configmaps \"settings\" not found", kube.Kubectl.Run("get", "cm", "settings", "-n", ns).Fails().Stderr);

        // The same object on its own is still refused by the server's strict field validation, as before.
        var alone = kube.Kubectl.Apply(bad.ToJsonString()).Fails().Stderr;
        Assert.Contains("strict decoding error: unknown field \"spec.dataset.nmae\"", alone);

        // A missing required field is kubectl's to report too.
        var noDataset = Experiment(ns, "r50");
        noDataset["spec"]!.AsObject().Remove("dataset");
        Assert.Contains("missing required field \"dataset\"", kube.Kubectl.Apply(List(noDataset)).Fails().Stderr);

        // Built-in kinds are not in the emulator's OpenAPI v2, so the server's strict decoding refuses them item by item.
        var typo = ConfigMap(ns, "typo", "0.1");
        typo["datta"] = new JsonObject();
        Assert.Contains("unknown field \"datta\"", kube.Kubectl.Apply(List(typo)).Fails().Stderr);
    }

    [Fact]
    public void Openapi_v2_describes_list_object_meta_and_each_custom_kind()
    {
        var doc = JsonNode.Parse(kube.Kubectl.Run("get", "--raw", "/openapi/v2").Ok().Stdout)!.AsObject();
        Assert.Equal("2.0", doc["swagger"]!.GetValue<string>());
        var definitions = doc["definitions"]!.AsObject();
        Assert.Equal("array", definitions["io.k8s.apimachinery.pkg.apis.meta.v1.List"]!["properties"]!["items"]!["type"]!.GetValue<string>());
        Assert.Equal("object", definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]!["type"]!.GetValue<string>());

        var experiment = definitions["io.fastreid.v1alpha1.ReidExperiment"]!.AsObject();
        Assert.Equal("""[{"group":"fastreid.io","version":"v1alpha1","kind":"ReidExperiment"}]""", experiment["x-kubernetes-group-version-kind"]!.ToJsonString());
        Assert.Equal("#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", experiment["properties"]!["metadata"]!["$ref"]!.GetValue<string>());
        // As the apiserver publishes v2 for kubectl: preserved trees lose type and properties, defaults are pruned.
        var spec = experiment["properties"]!["spec"]!["properties"]!.AsObject();
        Assert.Null(spec["config"]!["type"]);
        Assert.Null(spec["dataset"]!["properties"]!["synthetic"]!["properties"]!["cameras"]!["default"]);
        Assert.NotNull(definitions["io.fastreid.v1alpha1.ReidExperimentList"]);
        Assert.NotNull(definitions["io.example.v1.Widget"]);
    }
}
