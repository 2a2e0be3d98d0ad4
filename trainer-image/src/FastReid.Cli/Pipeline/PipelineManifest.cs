using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;

namespace FastReid.Cli.Pipeline;

/// <summary>One resource of a manifest, with where it came from (for messages).</summary>
internal sealed record ManifestResource(string File, int Document, ICustomResource Resource)
{
    public string Where => $"{File} (document {Document}, {Resource.Kind}/{Resource.Metadata.Name})";
}

/// <summary>
/// The resources of the manifests given to <c>fastreid pipeline run</c>, read and checked as the operator checks them:
/// every document one of the four kinds, read strictly (a misspelt field is an error, as kubectl's strict field
/// validation makes it against the CRD schema), then planned once with nothing observed, so a spec the operator would
/// mark InvalidSpec is refused here with the operator's message. Every problem is reported at once, each naming the
/// file and the document (1-based), in a <see cref="FastReidException"/>.
/// </summary>
internal static class PipelineManifest
{
    /// <summary>A misspelt field is an error, as kubectl's strict field validation makes it against the CRD schema.</summary>
    internal static readonly JsonSerializerOptions Strict = new(ApiJson.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    public static List<ManifestResource> Load(IReadOnlyList<string> files, PlannerOptions options, Func<string, string, bool> inState)
    {
        var problems = new List<string>();
        var resources = new List<ManifestResource>();
        foreach (var file in files)
        {
            string text;
            try { text = File.ReadAllText(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"cannot read the manifest '{file}': {e.Message}");
                continue;
            }
            List<JsonNode?> documents;
            try { documents = ManifestYaml.Documents(text, file); }
            catch (FormatException e)
            {
                problems.Add(e.Message);
                continue;
            }
            if (documents.Count == 0) problems.Add($"{file}: the file has no documents");
            for (int i = 0; i < documents.Count; i++)
            {
                if (Read(file, i + 1, documents[i], problems) is { } resource) resources.Add(new ManifestResource(file, i + 1, resource));
            }
        }

        foreach (var duplicate in resources.GroupBy(r => (r.Resource.Kind, Ns(r.Resource), r.Resource.Metadata.Name)).Where(g => g.Count() > 1))
            problems.Add($"{string.Join(" and ", duplicate.Select(d => d.Where))}: the same {duplicate.Key.Kind} twice; names are unique per kind and namespace");

        var now = DateTimeOffset.UtcNow;
        foreach (var item in resources)
        {
            var plan = LocalKinds.Plan(item.Resource, ObservedChildren.None(now), _ => null, options);
            if (Conditions.Find(plan.Status.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } invalid)
                problems.Add($"{item.Where}: {invalid.Message}");
            // a reference resolves as on a cluster: to a resource of these manifests, or one the state folder already holds
            foreach (var reference in LocalKinds.References(item.Resource))
            {
                bool defined = resources.Any(r => Ns(r.Resource) == Ns(item.Resource) && Experiments(r.Resource).Contains(reference.Name))
                    || inState(Ns(item.Resource), reference.Name);
                if (!defined)
                    problems.Add($"{item.Where}: {reference.Field}: ReidExperiment '{reference.Name}' is not in namespace {Ns(item.Resource)} of these manifests " +
                        "nor of the state folder; add its manifest (-f), or fix the name");
            }
        }
        if (problems.Count > 0)
            throw new FastReidException($"the pipeline's manifests are not valid:{string.Concat(problems.Select(p => "\n  " + p))}");
        return resources;
    }

    /// <summary>
    /// The ReidExperiments a resource of the manifests stands for: itself, or a DistillJob's student (its name is known
    /// before anything runs, so an ExportJob of the distilled student is a reference that resolves).
    /// </summary>
    private static IEnumerable<string> Experiments(ICustomResource resource) => resource switch
    {
        ReidExperiment e => [e.Metadata.Name!],
        DistillJob d => [FastReid.Pipeline.Distill.DistillNames.StudentName(d)],
        _ => [],
    };

    internal static string Ns(ICustomResource resource) => resource.Metadata.Namespace ?? "default";

    private static ICustomResource? Read(string file, int document, JsonNode? node, List<string> problems)
    {
        var where = $"{file} (document {document})";
        if (node is not JsonObject json)
        {
            problems.Add($"{where}: expected a mapping with apiVersion, kind, metadata and spec");
            return null;
        }
        var kindName = (string?)json["kind"];
        var kind = ResourceKinds.All.FirstOrDefault(k => k.Kind == kindName);
        if (kind is null)
        {
            problems.Add($"{where}: kind: '{kindName}' is not one the pipeline runs (allowed: {string.Join(", ", ResourceKinds.All.Select(k => k.Kind))})");
            return null;
        }
        if ((string?)json["apiVersion"] != ApiGroup.ApiVersion)
        {
            problems.Add($"{where}: apiVersion: must be {ApiGroup.ApiVersion}, got '{(string?)json["apiVersion"]}'");
            return null;
        }
        json.Remove("status"); // a manifest says what is wanted; the status is the runner's
        ICustomResource resource;
        try { resource = (ICustomResource)(json.Deserialize(kind.Type, Strict) ?? throw new JsonException("the document is null")); }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : "(document)";
            problems.Add($"{where}: {field}: {e.Message.Split(" Path:")[0]}");
            return null;
        }
        if (string.IsNullOrEmpty(resource.Metadata.Name))
        {
            problems.Add($"{where}: metadata.name: is required");
            return null;
        }
        resource.Metadata.Namespace ??= "default";
        return resource;
    }
}
