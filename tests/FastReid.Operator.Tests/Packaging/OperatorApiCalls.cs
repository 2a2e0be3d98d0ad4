using System.Text.RegularExpressions;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Kube;

namespace FastReid.Operator.Tests.Packaging;

/// <summary>An RBAC permission: verb on group/resource (resource may carry a subresource, e.g. "x/status").</summary>
internal sealed record Permission(string Group, string Resource, string Verb)
{
    public override string ToString() => $"{Verb} {(Group.Length == 0 ? "core" : Group)}/{Resource}";
}

/// <summary>
/// The Kubernetes API calls the operator makes, read from its source: every
/// <c>client.&lt;GroupVersion&gt;.&lt;Method&gt;Async(</c> call of KubernetesClient, the Lease lock used for
/// leader election, and owner references that block owner deletion. A call this reader cannot map fails
/// the test that uses it, naming the call, so a new API call cannot ship without its RBAC rule.
/// </summary>
internal static partial class OperatorApiCalls
{
    [GeneratedRegex(@"\.(?<group>CustomObjects|[A-Z][A-Za-z]*V[0-9]+(?:alpha[0-9]+|beta[0-9]+)?)\s*\.\s*(?<method>[A-Z][A-Za-z]*?)(?:WithHttpMessages)?Async\s*\(")]
    private static partial Regex ClientCall();

    [GeneratedRegex(@"^(?<verb>WatchList|List|Read|Get|Create|Replace|Patch|Delete)(?:Namespaced|Cluster)?(?<kind>[A-Za-z]+?)(?:ForAllNamespaces)?(?<status>Status)?$")]
    private static partial Regex MethodName();

    /// <summary>A <c>KindDescriptor kind</c>: any kind a controller of the operator reconciles (its own, or one it reads).</summary>
    [GeneratedRegex(@"(?<![\w.])kind\.Plural\b")]
    private static partial Regex ReconciledKind();

    /// <summary>A <c>KindDescriptor childKind</c>: one of <see cref="KubernetesClusterApi.ChildKinds"/>.</summary>
    [GeneratedRegex(@"(?<![\w.])childKind\.Plural\b")]
    private static partial Regex ChildKind();

    /// <summary>Plurals of the kinds the operator's controllers reconcile.</summary>
    public static IReadOnlyList<string> ReconciledPlurals => [.. Hosting.OperatorHost.Controllers.Select(c => c.Kind.Plural)];

    private static readonly Dictionary<string, string> Groups = new(StringComparer.Ordinal)
    {
        ["CoreV1"] = "", ["BatchV1"] = "batch", ["AppsV1"] = "apps", ["CoordinationV1"] = "coordination.k8s.io",
        ["EventsV1"] = "events.k8s.io", ["CustomObjects"] = ApiGroup.Group,
    };

    private static readonly Dictionary<string, string> Verbs = new(StringComparer.Ordinal)
    {
        ["WatchList"] = "watch", ["List"] = "list", ["Read"] = "get", ["Get"] = "get", ["Create"] = "create",
        ["Replace"] = "update", ["Patch"] = "patch", ["Delete"] = "delete",
    };

    public sealed record Found(SortedSet<Permission> Permissions, List<string> Sites, List<string> Problems);

    public static Found FromSource(string operatorSourceDir, string pipelineSourceDir)
    {
        var permissions = new SortedSet<Permission>(Comparer<Permission>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString())));
        var sites = new List<string>();
        var problems = new List<string>();
        foreach (var file in SourceFiles(operatorSourceDir))
        {
            var text = File.ReadAllText(file);
            var name = Path.GetRelativePath(operatorSourceDir, file);
            foreach (Match call in ClientCall().Matches(text))
            {
                var site = $"{name}: {call.Groups["group"].Value}.{call.Groups["method"].Value}Async";
                sites.Add(site);
                if (!Groups.TryGetValue(call.Groups["group"].Value, out var group))
                {
                    problems.Add($"{site}: unknown API group accessor (add it to OperatorApiCalls.Groups)");
                    continue;
                }
                var m = MethodName().Match(call.Groups["method"].Value);
                if (!m.Success)
                {
                    problems.Add($"{site}: cannot tell the verb and resource from the method name (extend OperatorApiCalls)");
                    continue;
                }
                List<string> resources;
                if (m.Groups["kind"].Value == "CustomObject")
                {
                    // Custom-object calls name their plural through a kind descriptor: `kind` (any kind the
                    // controllers reconcile) or `childKind` (one the operator makes as a child).
                    var arguments = Arguments(text, call.Index + call.Length);
                    if (ChildKind().IsMatch(arguments))
                        resources = [.. KubernetesClusterApi.ChildKinds.Select(k => k.Plural)];
                    else if (ReconciledKind().IsMatch(arguments))
                        resources = [.. ReconciledPlurals];
                    else
                    {
                        problems.Add($"{site}: a custom-object call that passes neither kind.Plural nor childKind.Plural (extend OperatorApiCalls)");
                        continue;
                    }
                }
                else
                {
                    resources = [m.Groups["kind"].Value.ToLowerInvariant() + "s"];
                }
                foreach (var resource in resources)
                    permissions.Add(new Permission(group, resource + (m.Groups["status"].Success ? "/status" : ""), Verbs[m.Groups["verb"].Value]));
            }
            if (text.Contains("new LeaseLock(", StringComparison.Ordinal))
            {
                // Library code: what KubernetesClient's LeaseLock calls is read from its IL.
                foreach (var method in LeaseLockCalls.Read())
                {
                    var site = $"{name}: LeaseLock → {method}";
                    sites.Add(site);
                    var m = MethodName().Match(method[..^"Async".Length].Replace("WithHttpMessages", "", StringComparison.Ordinal));
                    if (m.Success && m.Groups["kind"].Value == "Lease") permissions.Add(new Permission("coordination.k8s.io", "leases", Verbs[m.Groups["verb"].Value]));
                    else problems.Add($"{site}: cannot tell the verb from the method name (extend OperatorApiCalls)");
                }
            }
            foreach (var other in (string[])["new ConfigMapLock(", "new EndpointsLock(", "new MultiLock(", "GenericClient("])
                if (text.Contains(other, StringComparison.Ordinal)) problems.Add($"{name}: uses {other.TrimEnd('(')} (extend OperatorApiCalls)");
        }
        // Children's owner references block owner deletion: with the OwnerReferencesPermissionEnforcement
        // admission plugin that needs update on the owner's finalizers.
        // Every kind the operator reconciles owns children (experiments: Job, Service, ConfigMap; exports: a Job).
        if (SourceFiles(pipelineSourceDir).Any(f => File.ReadAllText(f).Contains("BlockOwnerDeletion = true", StringComparison.Ordinal)))
            foreach (var plural in ReconciledPlurals)
                permissions.Add(new Permission(ApiGroup.Group, plural + "/finalizers", "update"));
        return new Found(permissions, sites, problems);
    }

    private static IEnumerable<string> SourceFiles(string dir) =>
        Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                     && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    /// <summary>The argument list of a call, from just after its '(' to the matching ')'.</summary>
    private static string Arguments(string text, int start)
    {
        int depth = 1;
        for (int i = start; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')' && --depth == 0) return text[start..i];
        }
        return text[start..];
    }
}
