using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FastReid.KubeEmulator.Tests;

/// <summary>resourceVersion and conflicts, selectors, finalizers, owner references and garbage collection.</summary>
public sealed class MetadataSemanticsTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>
{
    static V1ConfigMap ConfigMap(string name, IDictionary<string, string>? labels = null) =>
        new() { Metadata = new V1ObjectMeta { Name = name, Labels = labels }, Data = new Dictionary<string, string> { ["k"] = "v" } };

    [Fact]
    public void Kubectl_replace_with_a_stale_resourceVersion_is_a_conflict()
    {
        var ns = kube.Namespace("conflict");
        kube.Kubectl.Run("create", "configmap", "c", "-n", ns, "--from-literal=a=1").Ok();
        var stale = kube.Kubectl.Run("get", "cm", "c", "-n", ns, "-o", "json").Ok().Stdout;
        kube.Kubectl.Run("patch", "cm", "c", "-n", ns, "--type=merge", "-p", """{"data":{"a":"2"}}""").Ok();
        var conflict = kube.Kubectl.RunWithInput(stale, "replace", "-f", "-").Fails();
        Assert.Contains("Error from server (Conflict)", conflict.Stderr);
        Assert.Contains("the object has been modified; please apply your changes to the latest version and try again", conflict.Stderr);
        Assert.Equal("2", kube.Kubectl.Run("get", "cm", "c", "-n", ns, "-o", "jsonpath={.data.a}").Ok().Stdout);
    }

    [Fact]
    public async Task ResourceVersions_are_monotonic_and_noop_writes_do_not_bump_them()
    {
        var ns = kube.Namespace("rv");
        var a = await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), ns);
        var b = await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), ns);
        Assert.True(long.Parse(b.Metadata.ResourceVersion) > long.Parse(a.Metadata.ResourceVersion));
        Assert.NotEqual(a.Metadata.Uid, b.Metadata.Uid);
        Assert.NotNull(a.Metadata.CreationTimestamp);

        var same = await kube.Client.CoreV1.ReplaceNamespacedConfigMapAsync(a, "a", ns);
        Assert.Equal(a.Metadata.ResourceVersion, same.Metadata.ResourceVersion);

        a.Data["k"] = "changed";
        var changed = await kube.Client.CoreV1.ReplaceNamespacedConfigMapAsync(a, "a", ns);
        Assert.True(long.Parse(changed.Metadata.ResourceVersion) > long.Parse(b.Metadata.ResourceVersion));

        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => kube.Client.CoreV1.ReplaceNamespacedConfigMapAsync(a, "a", ns));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, stale.Response.StatusCode);

        // An update carrying the uid of a deleted-and-recreated object is refused even without a resourceVersion.
        await kube.Client.CoreV1.DeleteNamespacedConfigMapAsync("b", ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), ns);
        b.Metadata.ResourceVersion = null;
        var recreated = await Assert.ThrowsAsync<HttpOperationException>(() => kube.Client.CoreV1.ReplaceNamespacedConfigMapAsync(b, "b", ns));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, recreated.Response.StatusCode);
        Assert.Contains("Precondition failed: UID in precondition", recreated.Response.Content);

        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => kube.Client.CoreV1.ReadNamespacedConfigMapAsync("nope", ns));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.Response.StatusCode);
        Assert.Contains("\"reason\":\"NotFound\"", missing.Response.Content);
    }

    [Fact]
    public async Task Concurrent_read_modify_write_loops_lose_no_update()
    {
        var ns = kube.Namespace("race");
        var seed = ConfigMap("counter");
        seed.Data["n"] = "0";
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(seed, ns);
        var conflicts = 0;
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            for (var done = 0; done < 10;)
            {
                var cm = await kube.Client.CoreV1.ReadNamespacedConfigMapAsync("counter", ns);
                cm.Data["n"] = (int.Parse(cm.Data["n"]) + 1).ToString();
                try
                {
                    await kube.Client.CoreV1.ReplaceNamespacedConfigMapAsync(cm, "counter", ns);
                    done++;
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict)
                {
                    Interlocked.Increment(ref conflicts);
                }
            }
        })));
        Assert.Equal("60", (await kube.Client.CoreV1.ReadNamespacedConfigMapAsync("counter", ns)).Data["n"]);
    }

    [Fact]
    public async Task Dry_run_writes_nothing_and_delete_collection_honours_selectors()
    {
        var ns = kube.Namespace("dry");
        var preview = kube.Kubectl.Run("create", "configmap", "ghost", "-n", ns, "--dry-run=server", "-o", "jsonpath={.metadata.name}").Ok().Stdout;
        Assert.Equal("ghost", preview);
        Assert.NotEqual(0, kube.Kubectl.Run("get", "cm", "ghost", "-n", ns).ExitCode);

        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("t1", new Dictionary<string, string> { ["trial"] = "yes" }), ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("t2", new Dictionary<string, string> { ["trial"] = "yes" }), ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("keep"), ns);
        await kube.Client.CoreV1.DeleteCollectionNamespacedConfigMapAsync(ns, labelSelector: "trial=yes");
        Assert.Equal(["keep"], (await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns)).Items.Select(i => i.Metadata.Name));
    }

    [Fact]
    public async Task Label_selectors_equality_and_set_based_with_kubectl_and_client()
    {
        var ns = kube.Namespace("sel");
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a", new Dictionary<string, string> { ["env"] = "prod", ["tier"] = "gpu" }), ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b", new Dictionary<string, string> { ["env"] = "dev", ["tier"] = "cpu" }), ns);
        await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c", new Dictionary<string, string> { ["env"] = "test" }), ns);

        string Names(string selector) =>
            kube.Kubectl.Run("get", "cm", "-n", ns, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}").Ok().Stdout;
        Assert.Equal("a", Names("env=prod"));
        Assert.Equal("b c", Names("env!=prod"));
        Assert.Equal("a b", Names("env in (prod,dev)"));
        Assert.Equal("c", Names("env notin (prod,dev)"));
        Assert.Equal("a b", Names("tier"));
        Assert.Equal("c", Names("!tier"));
        Assert.Equal("a", Names("tier,env in (prod, test)"));
        Assert.Contains("unable to parse requirement", kube.Kubectl.Run("get", "cm", "-n", ns, "-l", "env in ()").Fails().Stderr);

        var list = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns, labelSelector: "tier in (cpu),env=dev");
        Assert.Equal(["b"], list.Items.Select(i => i.Metadata.Name));
        var byField = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "metadata.name=c");
        Assert.Equal(["c"], byField.Items.Select(i => i.Metadata.Name));
        var badField = await Assert.ThrowsAsync<HttpOperationException>(() => kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "data.k=v"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, badField.Response.StatusCode);

        var paged = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns, limit: 2);
        Assert.Equal(2, paged.Items.Count);
        var rest = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns, limit: 2, continueParameter: paged.Metadata.ContinueProperty);
        Assert.Equal(["c"], rest.Items.Select(i => i.Metadata.Name));
    }

    [Fact]
    public void Finalizers_hold_a_deleted_object_until_they_are_removed()
    {
        var ns = kube.Namespace("fin");
        kube.Kubectl.Apply($$$$"""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","namespace":"{{{{ns}}}}","finalizers":["fastreid.io/cleanup"]}}
            """).Ok();
        kube.Kubectl.Run("delete", "cm", "held", "-n", ns, "--wait=false").Ok();
        var deleting = kube.Kubectl.Run("get", "cm", "held", "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}|{.metadata.finalizers}").Ok().Stdout;
        Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:]+Z\|\[""fastreid.io/cleanup""\]$", deleting);

        var addFinalizer = kube.Kubectl.Run("patch", "cm", "held", "-n", ns, "--type=merge", "-p", """{"metadata":{"finalizers":["fastreid.io/cleanup","other.io/x"]}}""").Fails();
        Assert.Contains("no new finalizers can be added if the object is being deleted", addFinalizer.Stderr);

        kube.Kubectl.Run("patch", "cm", "held", "-n", ns, "--type=json", "-p", """[{"op":"remove","path":"/metadata/finalizers"}]""").Ok();
        Assert.Contains("NotFound", kube.Kubectl.Run("get", "cm", "held", "-n", ns).Fails().Stderr);
    }

    [Fact]
    public async Task Owner_references_cascade_in_background_orphan_on_request_and_wait_in_foreground()
    {
        var ns = kube.Namespace("gc");
        var owner = await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("owner"), ns);
        var other = await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("other-owner"), ns);
        V1OwnerReference Ref(V1ConfigMap o) => new() { ApiVersion = "v1", Kind = "ConfigMap", Name = o.Metadata.Name, Uid = o.Metadata.Uid };
        async Task Child(string name, params V1ConfigMap[] owners)
        {
            var child = ConfigMap(name);
            child.Metadata.OwnerReferences = owners.Select(Ref).ToList();
            await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(child, ns);
        }
        await Child("child", owner);
        await Child("shared", owner, other);

        kube.Kubectl.Run("delete", "cm", "owner", "-n", ns).Ok();
        await Eventually.True(() => kube.Kubectl.Run("get", "cm", "child", "-n", ns).ExitCode != 0, "child to be garbage collected");
        await Eventually.True(async () =>
            (await kube.Client.CoreV1.ReadNamespacedConfigMapAsync("shared", ns)).Metadata.OwnerReferences?.Count == 1,
            "the dangling owner reference to be removed from the shared child");

        await Child("orphan", other);
        kube.Kubectl.Run("delete", "cm", "other-owner", "-n", ns, "--cascade=orphan").Ok();
        var orphan = await kube.Client.CoreV1.ReadNamespacedConfigMapAsync("orphan", ns);
        Assert.Null(orphan.Metadata.OwnerReferences);
        await kube.Server.WaitForControllersAsync();
        Assert.Equal(0, kube.Kubectl.Run("get", "cm", "orphan", "-n", ns).ExitCode);

        var parent = await kube.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("parent"), ns);
        await Child("blocking", parent);
        kube.Kubectl.Run("delete", "cm", "parent", "-n", ns, "--cascade=foreground", "--timeout=10s").Ok();
        Assert.NotEqual(0, kube.Kubectl.Run("get", "cm", "blocking", "-n", ns).ExitCode);
        Assert.NotEqual(0, kube.Kubectl.Run("get", "cm", "parent", "-n", ns).ExitCode);
    }

    [Fact]
    public async Task Leases_and_events_work_as_leader_election_and_recorders_use_them()
    {
        var ns = kube.Namespace("lease");
        var lease = await kube.Client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "fastreid-operator" },
            Spec = new V1LeaseSpec { HolderIdentity = "a", LeaseDurationSeconds = 15, AcquireTime = DateTime.UtcNow, RenewTime = DateTime.UtcNow },
        }, ns);
        lease.Spec.HolderIdentity = "b";
        var taken = await kube.Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, lease.Metadata.Name, ns);
        lease.Spec.HolderIdentity = "c";
        var lost = await Assert.ThrowsAsync<HttpOperationException>(() => kube.Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, lease.Metadata.Name, ns));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, lost.Response.StatusCode);
        Assert.Equal("b", taken.Spec.HolderIdentity);
        Assert.Contains("fastreid-operator", kube.Kubectl.Run("get", "leases", "-n", ns).Ok().Stdout);

        await kube.Client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "exp1." },
            InvolvedObject = new V1ObjectReference { Kind = "ReidExperiment", Name = "exp1", NamespaceProperty = ns },
            Reason = "Started", Message = "trainer job created", Type = "Normal",
        }, ns);
        await kube.Client.EventsV1.CreateNamespacedEventAsync(new Eventsv1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "exp1." },
            EventTime = DateTime.UtcNow, ReportingController = "fastreid.io/operator", ReportingInstance = "op-0",
            Action = "Reconcile", Reason = "Succeeded", Note = "training finished", Type = "Normal",
            Regarding = new V1ObjectReference { Kind = "ReidExperiment", Name = "exp1", NamespaceProperty = ns },
        }, ns);
        Assert.Contains("trainer job created", kube.Kubectl.Run("get", "events", "-n", ns).Ok().Stdout);
        Assert.Contains("training finished", kube.Kubectl.Run("get", "events.v1.events.k8s.io", "-n", ns).Ok().Stdout);
        Assert.Contains("Started", kube.Kubectl.Run("get", "events", "-n", ns, "--field-selector", "involvedObject.name=exp1").Ok().Stdout);
    }
}
