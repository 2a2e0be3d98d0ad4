using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Rules;

/// <summary>CustomResourceDefinition validation, defaulting and the status the apiextensions controller would write.</summary>
internal static class CrdRules
{
    public static void Default(JsonObject crd)
    {
        if (crd["spec"]?["names"] is JsonObject names)
        {
            var kind = Meta.Str(names["kind"]);
            names["singular"] ??= kind.ToLowerInvariant();
            names["listKind"] ??= kind + "List";
        }
        if (crd["spec"] is JsonObject spec)
            spec["conversion"] ??= new JsonObject { ["strategy"] = "None" };
    }

    public static IEnumerable<FieldError> Validate(JsonObject crd, JsonObject? old)
    {
        var spec = crd["spec"] as JsonObject;
        var group = Meta.Str(spec?["group"]);
        var plural = Meta.Str(spec?["names"]?["plural"]);
        var kind = Meta.Str(spec?["names"]?["kind"]);
        var scope = Meta.Str(spec?["scope"]);
        if (group.Length == 0) yield return FieldError.Required("spec.group");
        else if (!group.Contains('.')) yield return FieldError.InvalidValue("spec.group", group, "should be a domain with at least one dot");
        if (plural.Length == 0) yield return FieldError.Required("spec.names.plural");
        else if (plural != plural.ToLowerInvariant()) yield return FieldError.InvalidValue("spec.names.plural", plural, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'");
        if (kind.Length == 0) yield return FieldError.Required("spec.names.kind");
        if (scope is not ("Namespaced" or "Cluster")) yield return FieldError.Unsupported("spec.scope", scope, ["Cluster", "Namespaced"]);
        if (Meta.Name(crd) != $"{plural}.{group}")
            yield return FieldError.InvalidValue("metadata.name", Meta.Name(crd), $"must be spec.names.plural+\".\"+spec.group");
        var versions = (spec?["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (versions.Count == 0) yield return FieldError.Required("spec.versions", "must have exactly one version marked as storage version");
        else if (versions.Count(v => v["storage"] is JsonValue s && s.TryGetValue<bool>(out var b) && b) != 1)
            yield return FieldError.InvalidValue("spec.versions", null, "must have exactly one version marked as storage version");
        for (var i = 0; i < versions.Count; i++)
        {
            if (versions[i]["schema"]?["openAPIV3Schema"] is not JsonObject schema)
                yield return FieldError.Required($"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required");
            else
                foreach (var e in Schema.StructuralCheck.Check(schema, $"spec.versions[{i}].schema.openAPIV3Schema")) yield return e;
        }
        if (old is not null && Meta.Str(old["spec"]?["scope"]) != scope) yield return FieldError.Immutable("spec.scope");
        if (old is not null && Meta.Str(old["spec"]?["group"]) != group) yield return FieldError.Immutable("spec.group");
    }

    /// <summary>The conditions and accepted names the apiextensions controllers set once a CRD is served.</summary>
    public static void MarkEstablished(JsonObject crd)
    {
        var now = Meta.Now();
        var storage = (crd["spec"]?["versions"] as JsonArray ?? []).OfType<JsonObject>()
            .FirstOrDefault(v => v["storage"] is JsonValue s && s.GetValue<bool>());
        var status = crd["status"] as JsonObject ?? new JsonObject();
        var stored = status["storedVersions"] as JsonArray ?? new JsonArray();
        if (storage is not null && !stored.Any(s => Meta.Str(s) == Meta.Str(storage["name"]))) stored.Add(Meta.Str(storage["name"]));
        crd["status"] = new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("NamesAccepted", "NoConflicts", "no conflicts found", now),
                Condition("Established", "InitialNamesAccepted", "the initial names have been accepted", now)),
            ["acceptedNames"] = crd["spec"]?["names"]?.DeepClone(),
            ["storedVersions"] = stored.DeepClone(),
        };
    }

    static JsonObject Condition(string type, string reason, string message, string now) => new()
    {
        ["type"] = type, ["status"] = "True", ["lastTransitionTime"] = now, ["reason"] = reason, ["message"] = message,
    };
}
