using System.Text.Json;
using k8s;
using k8s.Autorest;

namespace FastReid.KubeEmulator.Tests;

/// <summary>CRDs and their custom resources: discovery, schema, status subresource and generation rules.</summary>
public sealed class CustomResourceTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>, IAsyncLifetime
{
    public Task InitializeAsync()
    {
        kube.Kubectl.Apply(TestManifests.WidgetCrd).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Established", "crd/widgets.example.io", "--timeout=10s").Ok();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    string Get(string ns, string jsonPath) =>
        kube.Kubectl.Run("get", "widget", "w", "-n", ns, "-o", $"jsonpath={jsonPath}").Ok().Stdout;

    [Fact]
    public void Generation_follows_spec_and_status_is_only_written_through_its_subresource()
    {
        var ns = kube.Namespace("gen");
        kube.Kubectl.Apply(TestManifests.Widget(ns, "w", 3)).Ok();
        Assert.Equal("1 blue", Get(ns, "{.metadata.generation} {.spec.color}"));

        // A spec change bumps generation.
        kube.Kubectl.Run("patch", "widget", "w", "-n", ns, "--type=merge", "-p", """{"spec":{"size":4}}""").Ok();
        Assert.Equal("2", Get(ns, "{.metadata.generation}"));
        // Metadata changes do not.
        kube.Kubectl.Run("label", "widget", "w", "-n", ns, "team=reid").Ok();
        Assert.Equal("2", Get(ns, "{.metadata.generation}"));
        // Status through the subresource: stored, generation unchanged.
        kube.Kubectl.Run("patch", "widget", "w", "-n", ns, "--subresource=status", "--type=merge",
            "-p", """{"status":{"phase":"Running","observedGeneration":2}}""").Ok();
        Assert.Equal("2 Running", Get(ns, "{.metadata.generation} {.status.phase}"));
        // Status in a main-resource write is ignored; spec in a status write is ignored.
        kube.Kubectl.Run("patch", "widget", "w", "-n", ns, "--type=merge", "-p", """{"status":{"phase":"Hacked"}}""").Ok();
        kube.Kubectl.Run("patch", "widget", "w", "-n", ns, "--subresource=status", "--type=merge", "-p", """{"spec":{"size":99}}""").Ok();
        Assert.Equal("2 Running 4", Get(ns, "{.metadata.generation} {.status.phase} {.spec.size}"));

        var strategic = kube.Kubectl.Run("patch", "widget", "w", "-n", ns, "--type=strategic", "-p", """{"spec":{"size":5}}""").Fails();
        Assert.Contains("strategic merge patch is not supported for custom resources", strategic.Stderr);

        var table = kube.Kubectl.Run("get", "wd", "-n", ns).Ok().Stdout;
        Assert.Matches(@"NAME\s+PHASE\s+SIZE\s+AGE", table);
        Assert.Matches(@"w\s+Running\s+4\s+\d+s", table);
    }

    [Fact]
    public void Schema_defaults_validates_and_rejects_unknown_fields_under_strict_validation()
    {
        var ns = kube.Namespace("schema");
        var invalid = kube.Kubectl.Apply(TestManifests.Widget(ns, "w", 0)).Fails();
        Assert.Contains("The Widget \"w\" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1", invalid.Stderr);

        var unknown = kube.Kubectl.Apply(TestManifests.Widget(ns, "w", 1) + "\n  sise: 2\n").Fails();
        Assert.Contains("unknown field \"spec.sise\"", unknown.Stderr);

        var wrongEnum = kube.Kubectl.Apply(TestManifests.Widget(ns, "w", 1) + "\n  color: green\n").Fails();
        Assert.Contains("spec.color: Unsupported value: \"green\"", wrongEnum.Stderr);

        // Preserved unknown fields survive; with --validate=false kubectl sends fieldValidation=Ignore and the server prunes.
        kube.Kubectl.Apply(TestManifests.Widget(ns, "w", 1) + "\n  config: {MODEL: {BACKBONE: {DEPTH: 50}}}\n").Ok();
        Assert.Equal("50", Get(ns, "{.spec.config.MODEL.BACKBONE.DEPTH}"));
        kube.Kubectl.RunWithInput(TestManifests.Widget(ns, "w2", 1) + "\n  extra: 1\n", "apply", "--validate=false", "-f", "-").Ok();
        Assert.Equal("{\"color\":\"blue\",\"size\":1}", kube.Kubectl.Run("get", "widget", "w2", "-n", ns, "-o", "jsonpath={.spec}").Ok().Stdout);
    }

    [Fact]
    public async Task KubernetesClient_custom_objects_need_a_resourceVersion_to_update_and_report_conflicts()
    {
        var ns = kube.Namespace("cr-client");
        var body = JsonSerializer.Deserialize<JsonElement>($$$"""{"apiVersion":"example.io/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":2}}""");
        var created = (JsonElement)await kube.Client.CustomObjects.CreateNamespacedCustomObjectAsync(body, "example.io", "v1", ns, "widgets");
        var rv = created.GetProperty("metadata").GetProperty("resourceVersion").GetString();
        Assert.Equal(1, created.GetProperty("metadata").GetProperty("generation").GetInt32());

        // Custom resources do not allow unconditional updates.
        var noRv = await Assert.ThrowsAsync<HttpOperationException>(() => kube.Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(
            body, "example.io", "v1", ns, "widgets", "w"));
        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, noRv.Response.StatusCode);
        Assert.Contains("must be specified for an update", noRv.Response.Content);

        var withRv = JsonSerializer.Deserialize<JsonElement>($$$"""{"apiVersion":"example.io/v1","kind":"Widget","metadata":{"name":"w","resourceVersion":"{{{rv}}}"},"spec":{"size":5}}""");
        var updated = (JsonElement)await kube.Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(withRv, "example.io", "v1", ns, "widgets", "w");
        Assert.Equal(2, updated.GetProperty("metadata").GetProperty("generation").GetInt32());

        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => kube.Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(
            withRv, "example.io", "v1", ns, "widgets", "w"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, stale.Response.StatusCode);
        var status = JsonSerializer.Deserialize<JsonElement>(stale.Response.Content);
        Assert.Equal("Conflict", status.GetProperty("reason").GetString());
        Assert.Contains("the object has been modified", status.GetProperty("message").GetString());

        var statusPatch = new k8s.Models.V1Patch("""{"status":{"phase":"Succeeded","observedGeneration":2}}""", k8s.Models.V1Patch.PatchType.MergePatch);
        var afterStatus = (JsonElement)await kube.Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(statusPatch, "example.io", "v1", ns, "widgets", "w");
        Assert.Equal("Succeeded", afterStatus.GetProperty("status").GetProperty("phase").GetString());
        Assert.Equal(2, afterStatus.GetProperty("metadata").GetProperty("generation").GetInt32());
    }

    [Fact]
    public void Cluster_scoped_custom_resources_live_outside_namespaces()
    {
        var crd = TestManifests.WidgetCrd.Replace("widgets", "pools").Replace("Widget", "Pool").Replace("widget", "pool").Replace("[wd]", "[pl]")
            .Replace("scope: Namespaced", "scope: Cluster");
        kube.Kubectl.Apply(crd).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Established", "crd/pools.example.io", "--timeout=10s").Ok();
        kube.Kubectl.Apply("apiVersion: example.io/v1\nkind: Pool\nmetadata:\n  name: gpus\nspec:\n  size: 8\n").Ok();
        Assert.Equal("8", kube.Kubectl.Run("get", "pool", "gpus", "-o", "jsonpath={.spec.size}").Ok().Stdout);
        Assert.Contains("false", kube.Kubectl.Run("api-resources", "--api-group=example.io", "-o", "wide").Ok().Stdout.Split('\n').Single(l => l.StartsWith("pools")));
        Assert.Contains("gpus", kube.Kubectl.Run("get", "pools", "-A").Ok().Stdout);
    }

    [Fact]
    public void Non_structural_crds_are_rejected_and_value_validation_junctors_apply()
    {
        var untyped = TestManifests.WidgetCrd.Replace("widgets", "loose").Replace("Widget", "Loose").Replace("widget", "loosething").Replace("[wd]", "[lz]")
            .Replace("color: {type: string, default: blue, enum: [blue, red]}", "color: {default: blue}");
        var rejected = kube.Kubectl.Apply(untyped).Fails();
        Assert.Contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[color].type: Required value: must not be empty for specified object fields", rejected.Stderr);

        var crd = TestManifests.WidgetCrd.Replace("widgets", "knobs").Replace("Widget", "Knob").Replace("widget", "knob").Replace("[wd]", "[kn]")
            .Replace("size: {type: integer, minimum: 1}", "size: {type: integer, minimum: 1, oneOf: [{maximum: 4}, {minimum: 8}]}")
            .Replace("config: {type: object, x-kubernetes-preserve-unknown-fields: true}",
                "config: {type: object, x-kubernetes-preserve-unknown-fields: true}\n              tags: {type: array, items: {type: string}, x-kubernetes-list-type: set}");
        kube.Kubectl.Apply(crd).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Established", "crd/knobs.example.io", "--timeout=10s").Ok();
        var ns = kube.Namespace("junctor");
        string Knob(int size, string tags = "[a]") => TestManifests.Widget(ns, "k", size).Replace("Widget", "Knob") + $"\n  tags: {tags}\n";
        Assert.Contains("must validate one and only one schema (oneOf)", kube.Kubectl.Apply(Knob(6)).Fails().Stderr);
        Assert.Contains("Duplicate value: \"a\"", kube.Kubectl.Apply(Knob(2, "[a, b, a]")).Fails().Stderr);
        kube.Kubectl.Apply(Knob(9)).Ok();
    }

    [Fact]
    public void A_crd_appears_in_discovery_when_created_and_takes_its_objects_when_deleted()
    {
        var crd = TestManifests.WidgetCrd.Replace("widgets", "gadgets").Replace("widget", "gadget").Replace("Widget", "Gadget").Replace("[wd]", "[gd]");
        Assert.DoesNotContain("gadgets", kube.Kubectl.Run("api-resources", "--api-group=example.io").Ok().Stdout);
        kube.Kubectl.Apply(crd).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Established", "crd/gadgets.example.io", "--timeout=10s").Ok();
        Assert.Contains("gadgets", kube.Kubectl.Run("api-resources", "--api-group=example.io").Ok().Stdout);
        var ns = kube.Namespace("crd-life");
        kube.Kubectl.Apply(TestManifests.Widget(ns, "g", 1).Replace("Widget", "Gadget")).Ok();
        Assert.Contains("g ", kube.Kubectl.Run("get", "gd", "-n", ns).Ok().Stdout);
        Assert.Contains("spec", kube.Kubectl.Run("explain", "gadget").Ok().Stdout);

        kube.Kubectl.Run("delete", "crd", "gadgets.example.io").Ok();
        Assert.DoesNotContain("gadgets", kube.Kubectl.Run("api-resources", "--api-group=example.io").Ok().Stdout);
        Assert.Contains("the server doesn't have a resource type \"gadgets\"", kube.Kubectl.Run("get", "gadgets", "-n", ns).Fails().Stderr);
        kube.Kubectl.Apply(crd).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Established", "crd/gadgets.example.io", "--timeout=10s").Ok();
        Assert.Contains("No resources found", kube.Kubectl.Run("get", "gadgets", "-n", ns).Ok().Stderr);
    }
}
