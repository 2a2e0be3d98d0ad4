using System.Net;
using System.Text.Json.Nodes;
using FastReid.KubeEmulator;
using FastReid.Operator.Hosting;
using FastReid.Operator.Kube;
using FastReid.Operator.Tests.Packaging;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>
/// charts/fastreid-operator without a helm binary: values against values.schema.json, the templates
/// rendered by <see cref="HelmTemplate"/> (the chart keeps to the subset it renders), RBAC against the API
/// calls in the operator's source, the Deployment's flags against the operator's parser, and the rendered
/// chart installed on the emulator with its operator taking the Lease and answering the probes.
/// </summary>
public sealed class ChartTests
{
    private readonly Chart _chart = new();

    [Fact]
    public void Values_yaml_satisfies_values_schema_json()
    {
        var problems = JsonSchemaChecker.Check(_chart.Schema, _chart.Values);
        Assert.True(problems.Count == 0, "values.yaml does not satisfy values.schema.json:\n" + string.Join("\n", problems));
    }

    [Theory]
    [InlineData("rbac.scope", "\"everywhere\"", "values.rbac.scope: must be one of")]
    [InlineData("replicas", "0", "values.replicas: must be >= 1")]
    [InlineData("replicas", "\"2\"", "values.replicas: must be integer")]
    [InlineData("image.pullPolicy", "\"Sometimes\"", "values.image.pullPolicy: must be one of")]
    [InlineData("leaderElection.enabled", "\"yes\"", "values.leaderElection.enabled: must be boolean")]
    [InlineData("defaultStorage.uri", "\"minio://models\"", "values.defaultStorage.uri: 'minio://models' does not match")]
    [InlineData("defaultStorage.secretRef.name", "\"S3_Creds\"", "values.defaultStorage.secretRef.name: 'S3_Creds' does not match")]
    [InlineData("resources.limits.memory", "\"lots\"", "values.resources.limits.memory: 'lots' does not match")]
    [InlineData("metrics.prot", "8080", "values.metrics.prot: is not a known value")]
    public void The_schema_rejects_values_a_user_could_get_wrong(string path, string json, string expected)
    {
        var problems = JsonSchemaChecker.Check(_chart.Schema, _chart.ValuesWith((path, json)));
        Assert.True(problems.Any(p => p.StartsWith(expected, StringComparison.Ordinal)),
            $"{path} = {json}: expected a problem starting '{expected}', got:\n{string.Join("\n", problems)}");
    }

    [Fact]
    public void Every_value_is_used_by_a_template_and_every_template_value_exists()
    {
        var used = _chart.TemplateFiles().SelectMany(f => HelmTemplate.ValuePaths(File.ReadAllText(f)))
            .Select(p => p[".Values.".Length..]).ToHashSet(StringComparer.Ordinal);
        var leaves = Leaves(_chart.Values, "").ToList();
        Assert.Empty(leaves.Where(l => !used.Contains(l)).Select(l => $"values.yaml: {l} is not used by any template"));
        Assert.Empty(used.Where(u => !leaves.Contains(u)).Select(u => $"a template uses .Values.{u}, which values.yaml does not define"));
    }

    private static IEnumerable<string> Leaves(JsonObject obj, string prefix) =>
        obj.SelectMany(p => p.Value is JsonObject child ? Leaves(child, prefix + p.Key + ".") : [prefix + p.Key]);

    [Fact]
    public void Chart_crds_are_the_generated_crds()
    {
        var generated = Directory.GetFiles(Repo.PathOf("crds"), "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var inChart = Directory.GetFiles(Path.Combine(_chart.Dir, "crds"), "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(generated);
        Assert.True(generated.SequenceEqual(inChart), $"charts/fastreid-operator/crds has [{string.Join(", ", inChart)}], crds/ has [{string.Join(", ", generated)}]: copy crds/*.yaml into the chart");
        foreach (var file in generated)
            Assert.True(File.ReadAllText(Repo.PathOf("crds", file!)) == File.ReadAllText(Path.Combine(_chart.Dir, "crds", file!)),
                $"charts/fastreid-operator/crds/{file} differs from crds/{file}: copy crds/*.yaml into the chart after `make crds`");
    }

    private static OperatorApiCalls.Found CallsInSource()
    {
        var found = OperatorApiCalls.FromSource(Repo.PathOf("operator", "src", "FastReid.Operator"), Repo.PathOf("operator", "src", "FastReid.Pipeline"));
        Assert.True(found.Problems.Count == 0, string.Join("\n", found.Problems));
        // The reader must see the calls at all: informers (5 kinds × list + watch), creates, deletes, status, events.
        Assert.True(found.Sites.Count >= 20, "found only these API calls in the operator's source, the reader is broken:\n" + string.Join("\n", found.Sites));
        return found;
    }

    [Fact]
    public void Leader_election_calls_are_read_from_the_lease_lock_itself()
    {
        // Library code the operator's source does not show; if a KubernetesClient upgrade changes them, RBAC must follow.
        var calls = LeaseLockCalls.Read();
        Assert.True(calls.SetEquals(["CreateNamespacedLeaseAsync", "ReadNamespacedLeaseAsync", "ReplaceNamespacedLeaseAsync"]),
            "LeaseLock calls " + string.Join(", ", calls));
    }

    private static SortedSet<Permission> Granted(IEnumerable<JsonObject> roles, List<string> problems)
    {
        var granted = new SortedSet<Permission>(Comparer<Permission>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString())));
        foreach (var role in roles)
        {
            foreach (var rule in role["rules"]!.AsArray().Cast<JsonObject>())
            {
                var groups = rule["apiGroups"]!.AsArray().Select(g => (string)g!).ToList();
                var resources = rule["resources"]!.AsArray().Select(r => (string)r!).ToList();
                var verbs = rule["verbs"]!.AsArray().Select(v => (string)v!).ToList();
                if (groups.Concat(resources).Concat(verbs).Contains("*")) problems.Add($"{role["kind"]} {role["metadata"]!["name"]}: wildcard in {rule.ToJsonString()}");
                if (rule["nonResourceURLs"] is not null) problems.Add($"{role["kind"]} {role["metadata"]!["name"]}: nonResourceURLs are not needed");
                foreach (var g in groups) foreach (var r in resources) foreach (var v in verbs) granted.Add(new Permission(g, r, v));
            }
        }
        return granted;
    }

    private static void AssertRulesMatchCalls(List<JsonObject> objects, string scope)
    {
        var required = CallsInSource().Permissions;
        var problems = new List<string>();
        var roles = objects.Where(o => (string?)o["kind"] is "Role" or "ClusterRole").ToList();
        var granted = Granted(roles, problems);
        problems.AddRange(required.Except(granted).Select(p => $"missing: {p} (the operator calls it; add a rule to templates/rbac.yaml)"));
        problems.AddRange(granted.Except(required).Select(p => $"not needed: {p} (the operator never calls it; remove it from templates/rbac.yaml)"));
        Assert.True(problems.Count == 0, $"RBAC for rbac.scope={scope}:\n" + string.Join("\n", problems));

        // Every role is bound to the operator's ServiceAccount, and only to it.
        var deployment = Chart.Single(objects, "Deployment");
        var account = (string)deployment["spec"]!["template"]!["spec"]!["serviceAccountName"]!;
        Chart.Single(objects, "ServiceAccount", account);
        foreach (var role in roles)
        {
            var bindingKind = (string)role["kind"]! + "Binding";
            var binding = objects.Single(o => (string?)o["kind"] == bindingKind && (string?)o["roleRef"]!["name"] == (string?)role["metadata"]!["name"]);
            Assert.Equal((string)role["kind"]!, (string)binding["roleRef"]!["kind"]!);
            var subject = Assert.Single(binding["subjects"]!.AsArray())!;
            Assert.Equal(("ServiceAccount", account, Chart.DefaultRelease.Namespace),
                ((string)subject["kind"]!, (string)subject["name"]!, (string)subject["namespace"]!));
        }
    }

    [Fact]
    public void Cluster_scope_rbac_covers_every_api_call_of_the_operator_and_nothing_more()
    {
        var objects = _chart.Objects();
        AssertRulesMatchCalls(objects, "cluster");
        Chart.Single(objects, "ClusterRole");
        var args = Args(objects);
        Assert.DoesNotContain(args, a => a.StartsWith("--namespace", StringComparison.Ordinal));
    }

    [Fact]
    public void Namespace_scope_uses_only_namespaced_roles_and_watches_the_release_namespace()
    {
        var objects = _chart.Objects(_chart.ValuesWith(("rbac.scope", "\"namespace\"")));
        AssertRulesMatchCalls(objects, "namespace");
        Assert.Empty(objects.Where(o => ((string)o["kind"]!).StartsWith("Cluster", StringComparison.Ordinal)).Select(o => (string)o["kind"]!));
        foreach (var o in objects.Where(o => (string?)o["kind"] is "Role" or "RoleBinding"))
            Assert.Equal(Chart.DefaultRelease.Namespace, (string?)o["metadata"]!["namespace"]);
        var options = OperatorOptions.Parse(Args(objects)[1..], PodEnvironment);
        Assert.Equal(Chart.DefaultRelease.Namespace, options.Namespace);
    }

    [Fact]
    public void The_lease_rules_name_the_lease_the_deployment_asks_for()
    {
        var objects = _chart.Objects();
        var options = OperatorOptions.Parse(Args(objects)[1..], PodEnvironment);
        var leaseRole = objects.Single(o => (string?)o["kind"] == "Role" && o["rules"]!.AsArray().Any(r => r!["resources"]!.AsArray().Any(x => (string?)x == "leases")));
        Assert.Equal(options.LeaderElectionNamespace, (string?)leaseRole["metadata"]!["namespace"]);
        var named = leaseRole["rules"]!.AsArray().Where(r => r!["resourceNames"] is not null).ToList();
        Assert.NotEmpty(named);
        foreach (var rule in named) Assert.Equal([options.LeaderElectionId], rule!["resourceNames"]!.AsArray().Select(n => (string)n!).ToArray());
    }

    private static string? PodEnvironment(string name) => name switch
    {
        "POD_NAMESPACE" => Chart.DefaultRelease.Namespace,
        "POD_NAME" => "fastreid-operator-7d4b9-x2x7q",
        _ => null,
    };

    private static JsonObject Container(List<JsonObject> objects) =>
        Chart.Single(objects, "Deployment")["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single()!.AsObject();

    private static string[] Args(List<JsonObject> objects) => Container(objects)["args"]!.AsArray().Select(a => (string)a!).ToArray();

    [Fact]
    public void The_deployment_passes_flags_the_operator_accepts_with_the_values_given()
    {
        var values = _chart.ValuesWith(
            ("trainer.image", "\"registry.example.com/fastreid-trainer:1.2.3\""),
            ("trainer.pendingDeadlineSeconds", "900"),
            ("defaultStorage.uri", "\"s3://models/experiments\""),
            ("defaultStorage.endpoint", "\"http://minio.minio:9000\""),
            ("defaultStorage.secretRef.name", "\"s3-credentials\""),
            ("workers", "4"));
        var objects = _chart.Objects(values);
        var args = Args(objects);
        Assert.Equal("run", args[0]);
        var options = OperatorOptions.Parse(args[1..], PodEnvironment);
        Assert.True(options.LeaderElection);
        Assert.Equal(Chart.DefaultRelease.Namespace, options.LeaderElectionNamespace);
        Assert.Equal(Chart.DefaultRelease.Name, options.LeaderElectionId);
        Assert.Equal("fastreid-operator-7d4b9-x2x7q", options.Identity);
        Assert.Equal("registry.example.com/fastreid-trainer:1.2.3", options.TrainerImage);
        Assert.Equal(4, options.Workers);
        Assert.Equal(900, options.PendingDeadlineSeconds);
        Assert.Equal(("s3://models/experiments", "http://minio.minio:9000", "s3-credentials"),
            (options.DefaultStorage?.Uri, options.DefaultStorage?.Endpoint, options.DefaultStorage?.SecretRef?.Name));

        var defaults = OperatorOptions.Parse(Args(_chart.Objects())[1..], PodEnvironment);
        Assert.Null(defaults.DefaultStorage);
        Assert.Equal("fastreid-trainer:0.1.0", defaults.TrainerImage);
        Assert.Equal(8080, defaults.MetricsPort);
        Assert.Equal(600, defaults.PendingDeadlineSeconds);
    }

    [Fact]
    public void The_deployment_runs_two_hardened_replicas_with_probes_on_the_metrics_port()
    {
        var objects = _chart.Objects();
        var deployment = Chart.Single(objects, "Deployment");
        Assert.Equal(2L, (long)deployment["spec"]!["replicas"]!);
        var pod = deployment["spec"]!["template"]!["spec"]!;
        Assert.Equal((true, 1000L, "RuntimeDefault"), ((bool)pod["securityContext"]!["runAsNonRoot"]!, (long)pod["securityContext"]!["runAsUser"]!, (string)pod["securityContext"]!["seccompProfile"]!["type"]!));

        var container = Container(objects);
        var security = container["securityContext"]!;
        Assert.False((bool)security["allowPrivilegeEscalation"]!);
        Assert.True((bool)security["readOnlyRootFilesystem"]!);
        Assert.True((bool)security["runAsNonRoot"]!);
        Assert.Equal("RuntimeDefault", (string)security["seccompProfile"]!["type"]!);
        Assert.Equal(["ALL"], security["capabilities"]!["drop"]!.AsArray().Select(c => (string)c!).ToArray());

        var options = OperatorOptions.Parse(Args(objects)[1..], PodEnvironment);
        var port = container["ports"]!.AsArray().Single(p => (string?)p!["name"] == "metrics")!;
        Assert.Equal(options.MetricsPort, (long)port["containerPort"]!);
        Assert.Equal(("/healthz", "metrics"), ((string)container["livenessProbe"]!["httpGet"]!["path"]!, (string)container["livenessProbe"]!["httpGet"]!["port"]!));
        Assert.Equal(("/readyz", "metrics"), ((string)container["readinessProbe"]!["httpGet"]!["path"]!, (string)container["readinessProbe"]!["httpGet"]!["port"]!));
        Assert.NotNull(container["resources"]!["requests"]!["memory"]);
        Assert.NotNull(container["resources"]!["limits"]!["memory"]);

        // The operator watches pods by its children's managed-by label: its own pods must not carry it.
        var labels = deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        Assert.NotEqual(Pipeline.Experiments.ExperimentNames.ManagedBy, (string?)labels[Pipeline.Experiments.ExperimentNames.ManagedByLabel]);

        var service = Chart.Single(objects, "Service");
        Assert.Equal(labels.ToJsonString(), service["spec"]!["selector"]!.ToJsonString());
        Assert.Equal(("metrics", (long)options.MetricsPort), ((string)service["spec"]!["ports"]![0]!["targetPort"]!, (long)service["spec"]!["ports"]![0]!["port"]!));
    }

    [Fact]
    public void The_service_monitor_is_rendered_only_when_enabled_and_scrapes_the_metrics_service()
    {
        Assert.DoesNotContain(_chart.Objects(), o => (string?)o["kind"] == "ServiceMonitor");
        var objects = _chart.Objects(_chart.ValuesWith(("serviceMonitor.enabled", "true")));
        var monitor = Chart.Single(objects, "ServiceMonitor");
        var service = Chart.Single(objects, "Service");
        Assert.Equal(service["metadata"]!["labels"]!["app.kubernetes.io/instance"]!.ToJsonString(), monitor["spec"]!["selector"]!["matchLabels"]!["app.kubernetes.io/instance"]!.ToJsonString());
        var endpoint = monitor["spec"]!["endpoints"]![0]!;
        Assert.Equal(((string)service["spec"]!["ports"]![0]!["name"]!, "/metrics", "30s"), ((string)endpoint["port"]!, (string)endpoint["path"]!, (string)endpoint["interval"]!));
    }

    [Fact]
    public void Notes_name_the_release_and_the_metrics_service()
    {
        var notes = _chart.Render()["NOTES.txt"];
        Assert.Contains("deployment/fastreid-operator", notes);
        Assert.Contains("fastreid-operator-metrics, port 8080", notes);
        Assert.Contains("0.1.0", notes);
    }

    /// <summary>No Docker engine here to build it; this checks what can be checked without one.</summary>
    [Fact]
    public void The_operator_dockerfile_copies_what_it_publishes_and_runs_it_as_the_chart_expects()
    {
        var dockerfile = File.ReadAllLines(Repo.PathOf("operator", "Dockerfile"));
        var copied = dockerfile.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1]).ToList();
        foreach (var source in copied)
            Assert.True(File.Exists(Repo.PathOf(source)) || Directory.Exists(Repo.PathOf(source)), $"operator/Dockerfile copies {source}, which does not exist");

        // The published project and every project it references lie in what is copied.
        var publish = dockerfile.Single(l => l.Contains("dotnet publish", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var project = publish[Array.IndexOf(publish, "publish") + 1];
        var pending = new Queue<string>([Path.Combine(Repo.PathOf(project), Path.GetFileName(project) + ".csproj")]);
        var seen = new HashSet<string>();
        string? assemblyName = null;
        while (pending.TryDequeue(out var csproj))
        {
            if (!seen.Add(csproj)) continue;
            var relative = Path.GetRelativePath(Repo.Root, csproj);
            Assert.True(copied.Any(c => relative.StartsWith(c.TrimEnd('/') + "/", StringComparison.Ordinal)), $"{relative} is needed by the build but not copied by operator/Dockerfile");
            var xml = System.Xml.Linq.XDocument.Load(csproj);
            assemblyName ??= xml.Descendants("AssemblyName").Select(e => e.Value).FirstOrDefault();
            if (seen.Count == 1)
                Assert.True((string?)xml.Root!.Attribute("Sdk") != "Microsoft.NET.Sdk.Web" || dockerfile.Any(l => l.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:", StringComparison.Ordinal)),
                    "the operator is an ASP.NET Core app: its runtime image must be dotnet/aspnet");
            foreach (var reference in xml.Descendants("ProjectReference"))
                pending.Enqueue(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(csproj)!, reference.Attribute("Include")!.Value)));
        }
        var entrypoint = dockerfile.Single(l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal));
        Assert.Contains($"/{assemblyName}\"]", entrypoint);

        var user = dockerfile.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))["USER ".Length..].Split(':')[0];
        var pod = Chart.Single(_chart.Objects(), "Deployment")["spec"]!["template"]!["spec"]!;
        Assert.Equal((long)pod["securityContext"]!["runAsUser"]!, long.Parse(user, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("cluster")]
    [InlineData("namespace")]
    public async Task The_rendered_chart_installs_on_the_emulator_and_its_operator_takes_the_lease_and_turns_ready(string scope)
    {
        int port = HostTests.FreePort();
        var objects = _chart.Objects(_chart.ValuesWith(("metrics.port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("rbac.scope", $"\"{scope}\"")));
        await using var kube = await KubeEmulatorServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("chart-").FullName;
        try
        {
            var kubeconfig = kube.WriteKubeconfig(Path.Combine(dir, "kubeconfig"));
            var cache = Path.Combine(dir, "cache");
            var manifests = Path.Combine(dir, "manifests");
            Directory.CreateDirectory(manifests);
            for (int i = 0; i < objects.Count; i++) await File.WriteAllTextAsync(Path.Combine(manifests, $"{i:00}.json"), objects[i].ToJsonString());

            await Repo.KubectlOk(kubeconfig, cache, "create", "namespace", Chart.DefaultRelease.Namespace);
            await Repo.KubectlOk(kubeconfig, cache, "apply", "-f", Path.Combine(_chart.Dir, "crds"));
            await Repo.KubectlOk(kubeconfig, cache, "apply", "-f", manifests);
            var names = (await Repo.KubectlOk(kubeconfig, cache, "get", "-f", manifests, "-o", "name")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(objects.Count, names.Length);
            Assert.Contains("deployment.apps/fastreid-operator", names);
            Assert.Contains(scope == "cluster" ? "clusterrole.rbac.authorization.k8s.io/fastreid-operator" : "role.rbac.authorization.k8s.io/fastreid-operator", names);
            var crds = await Repo.KubectlOk(kubeconfig, cache, "get", "crds", "-o", "name");
            Assert.Contains("reidexperiments.fastreid.io", crds);

            // The operator as the Deployment starts it: its args, and the downward-API env.
            var options = OperatorOptions.Parse(Args(objects)[1..], PodEnvironment);
            using var client = new Kubernetes(kube.ClientConfiguration);
            var host = new OperatorHost(options, client, NullLoggerFactory.Instance);
            using var stop = new CancellationTokenSource();
            var running = host.RunAsync(stop.Token);
            try
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
                var deadline = DateTime.UtcNow.AddSeconds(20);
                string? holder = null;
                HttpStatusCode? ready = null;
                while (DateTime.UtcNow < deadline && (holder != options.Identity || ready != HttpStatusCode.OK))
                {
                    await Task.Delay(100);
                    if (running.IsCompleted) Assert.Fail($"the operator stopped early with exit code {await running}");
                    var leases = await client.CoordinationV1.ListNamespacedLeaseAsync(options.LeaderElectionNamespace);
                    holder = leases.Items.SingleOrDefault(l => l.Metadata.Name == options.LeaderElectionId)?.Spec.HolderIdentity;
                    try { ready = (await http.GetAsync("/readyz")).StatusCode; } catch (HttpRequestException) { ready = null; }
                }
                Assert.Equal(options.Identity, holder);
                Assert.Equal(HttpStatusCode.OK, ready);
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
            }
            finally
            {
                await stop.CancelAsync();
                Assert.Equal(0, await running);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
