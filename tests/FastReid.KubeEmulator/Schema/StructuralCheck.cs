using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Schema;

/// <summary>
/// The apiextensions rules that make a CRD schema "structural" (required for apiextensions.k8s.io/v1):
/// a type on every specified field (unless int-or-string or preserve-unknown-fields), object at the
/// root, properties and additionalProperties not both, and no type/default/nullable/additionalProperties
/// inside anyOf/allOf/oneOf/not. A real apiserver rejects such CRDs, so generated CRDs must pass here too.
/// </summary>
internal static class StructuralCheck
{
    static readonly string[] Junctors = ["anyOf", "allOf", "oneOf"];

    public static IEnumerable<FieldError> Check(JsonObject schema, string path)
    {
        if (Meta.Str(schema["type"]) != "object")
            yield return Meta.Str(schema["type"]).Length == 0
                ? FieldError.Required($"{path}.type", "must not be empty at the root")
                : FieldError.InvalidValue($"{path}.type", Meta.Str(schema["type"]), "must be object at the root");
        foreach (var e in Node(schema, path, isRoot: true)) yield return e;
    }

    static IEnumerable<FieldError> Node(JsonObject schema, string path, bool isRoot = false)
    {
        var intOrString = Flag(schema, "x-kubernetes-int-or-string");
        var preserve = Flag(schema, "x-kubernetes-preserve-unknown-fields");
        if (!isRoot && Meta.Str(schema["type"]).Length == 0 && !intOrString && !preserve)
            yield return FieldError.Required($"{path}.type", "must not be empty for specified object fields");
        if (schema["properties"] is not null && schema["additionalProperties"] is JsonObject)
            yield return FieldError.Forbidden($"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive");
        if (schema["properties"] is JsonObject props)
            foreach (var (name, child) in props)
                if (child is JsonObject c)
                    foreach (var e in Node(c, $"{path}.properties[{name}]")) yield return e;
        if (schema["additionalProperties"] is JsonObject additional)
            foreach (var e in Node(additional, $"{path}.additionalProperties")) yield return e;
        if (schema["items"] is JsonObject items)
            foreach (var e in Node(items, $"{path}.items")) yield return e;
        else if (Meta.Str(schema["type"]) == "array")
            yield return FieldError.Required($"{path}.items", "must be specified");
        foreach (var junctor in Junctors)
            for (var i = 0; schema[junctor] is JsonArray list && i < list.Count; i++)
                if (list[i] is JsonObject branch)
                    foreach (var e in Junctor(branch, $"{path}.{junctor}[{i}]", intOrString)) yield return e;
        if (schema["not"] is JsonObject not)
            foreach (var e in Junctor(not, $"{path}.not", intOrString)) yield return e;
    }

    static IEnumerable<FieldError> Junctor(JsonObject branch, string path, bool intOrString)
    {
        foreach (var forbidden in new[] { "type", "default", "nullable", "additionalProperties" })
        {
            // The int-or-string idiom anyOf: [{type: integer}, {type: string}] is the one allowed exception.
            if (forbidden == "type" && intOrString && Meta.Str(branch["type"]) is "integer" or "string") continue;
            if (branch[forbidden] is not null)
                yield return FieldError.Forbidden($"{path}.{forbidden}", "must be empty to be structural");
        }
    }

    static bool Flag(JsonObject schema, string name) => schema[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
}
