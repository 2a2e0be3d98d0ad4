using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Schema;

/// <summary>
/// What the apiserver does with a custom resource and its CRD's openAPIV3Schema, in its order: apply
/// defaults, prune fields the schema does not declare (reporting them for fieldValidation), then
/// validate types, required, enum, bounds, lengths and patterns. apiVersion, kind and metadata at the
/// root are the server's, not the schema's.
/// </summary>
internal static class StructuralSchema
{
    public static void Default(JsonNode? value, JsonObject? schema)
    {
        if (schema is null) return;
        if (value is JsonObject obj)
        {
            if (schema["properties"] is JsonObject props)
                foreach (var (name, propSchema) in props)
                {
                    if (propSchema is not JsonObject ps) continue;
                    if (!obj.ContainsKey(name) && ps["default"] is { } d) obj[name] = d.DeepClone();
                    Default(obj[name], ps);
                }
            else if (schema["additionalProperties"] is JsonObject ap)
                foreach (var (_, v) in obj.ToList()) Default(v, ap);
        }
        else if (value is JsonArray arr && schema["items"] is JsonObject items)
            foreach (var item in arr) Default(item, items);
    }

    /// <summary>Removes undeclared fields; returns their paths (".spec.foo") for Strict/Warn field validation.</summary>
    public static List<string> Prune(JsonObject root, JsonObject? schema)
    {
        var unknown = new List<string>();
        if (schema is null) return unknown;
        PruneNode(root, schema, "", unknown, isRoot: true);
        return unknown;
    }

    static void PruneNode(JsonNode? value, JsonObject schema, string path, List<string> unknown, bool isRoot = false)
    {
        if (Flag(schema, "x-kubernetes-preserve-unknown-fields") && schema["properties"] is null) return;
        if (value is JsonObject obj)
        {
            var props = schema["properties"] as JsonObject;
            var additional = schema["additionalProperties"];
            foreach (var (name, child) in obj.ToList())
            {
                if (isRoot && name is "apiVersion" or "kind" or "metadata") continue;
                if (props?[name] is JsonObject ps) PruneNode(child, ps, $"{path}.{name}", unknown);
                else if (additional is JsonObject aps) PruneNode(child, aps, $"{path}.{name}", unknown);
                else if (additional is JsonValue av && av.TryGetValue<bool>(out var allowed) && allowed) { }
                else if (!Flag(schema, "x-kubernetes-preserve-unknown-fields"))
                {
                    unknown.Add($"{path}.{name}");
                    obj.Remove(name);
                }
            }
        }
        else if (value is JsonArray arr && schema["items"] is JsonObject items)
            for (var i = 0; i < arr.Count; i++) PruneNode(arr[i], items, $"{path}[{i}]", unknown);
    }

    public static List<FieldError> Validate(JsonObject root, JsonObject? schema)
    {
        var errors = new List<FieldError>();
        if (schema is null) return errors;
        ValidateNode(root, schema, "", errors, isRoot: true);
        return errors;
    }

    static void ValidateNode(JsonNode? value, JsonObject schema, string path, List<FieldError> errors, bool isRoot = false)
    {
        var field = path.TrimStart('.');
        if (value is null)
        {
            if (!Flag(schema, "nullable") && Meta.Str(schema["type"]).Length > 0)
                errors.Add(FieldError.TypeInvalid(field, null, $"{field} in body must be of type {Meta.Str(schema["type"])}: \"null\""));
            return;
        }
        var type = Meta.Str(schema["type"]);
        var actual = TypeOf(value);
        var intOrString = Flag(schema, "x-kubernetes-int-or-string");
        if (intOrString ? actual is not ("integer" or "string") : type.Length > 0 && !(type == actual || (type == "number" && actual == "integer")))
        {
            errors.Add(FieldError.TypeInvalid(field, value, $"{field} in body must be of type {(intOrString ? "integer or string" : type)}: \"{actual}\""));
            return;
        }
        ValidateJunctors(value, schema, path, field, errors);
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
            errors.Add(FieldError.Unsupported(field, value is JsonValue sv && sv.TryGetValue<string>(out var s) ? s : value.ToJsonString(),
                allowed.Select(a => a is JsonValue av && av.TryGetValue<string>(out var x) ? x : a?.ToJsonString() ?? "null")));
        if (value is JsonValue v)
        {
            if (v.TryGetValue<double>(out var number))
            {
                if (schema["minimum"] is JsonValue min && number < min.GetValue<double>())
                    errors.Add(FieldError.InvalidValue(field, value, $"{field} in body should be greater than or equal to {min.ToJsonString()}"));
                if (schema["maximum"] is JsonValue max && number > max.GetValue<double>())
                    errors.Add(FieldError.InvalidValue(field, value, $"{field} in body should be less than or equal to {max.ToJsonString()}"));
            }
            if (v.TryGetValue<string>(out var str))
            {
                if (schema["minLength"] is JsonValue minL && str.Length < minL.GetValue<int>())
                    errors.Add(FieldError.InvalidValue(field, str, $"{field} in body should be at least {minL.ToJsonString()} chars long"));
                if (schema["maxLength"] is JsonValue maxL && str.Length > maxL.GetValue<int>())
                    errors.Add(new FieldError(field, "FieldValueTooLong", $"Too long: may not be more than {maxL.ToJsonString()} bytes"));
                if (schema["pattern"] is JsonValue pattern && !Regex.IsMatch(str, pattern.GetValue<string>()))
                    errors.Add(FieldError.InvalidValue(field, str, $"{field} in body should match '{pattern.GetValue<string>()}'"));
            }
        }
        else if (value is JsonObject obj)
        {
            foreach (var req in schema["required"] as JsonArray ?? [])
            {
                var name = Meta.Str(req);
                if (!obj.ContainsKey(name)) errors.Add(FieldError.Required($"{(path.Length == 0 ? "" : field + ".")}{name}"));
            }
            var props = schema["properties"] as JsonObject;
            foreach (var (name, child) in obj)
            {
                if (isRoot && name is "apiVersion" or "kind" or "metadata") continue;
                if (props?[name] is JsonObject ps) ValidateNode(child, ps, $"{path}.{name}", errors);
                else if (schema["additionalProperties"] is JsonObject aps) ValidateNode(child, aps, $"{path}.{name}", errors);
            }
        }
        else if (value is JsonArray arr)
        {
            if (schema["minItems"] is JsonValue minI && arr.Count < minI.GetValue<int>())
                errors.Add(FieldError.InvalidValue(field, value, $"{field} in body should have at least {minI.ToJsonString()} items"));
            if (schema["maxItems"] is JsonValue maxI && arr.Count > maxI.GetValue<int>())
                errors.Add(new FieldError(field, "FieldValueTooMany", $"Too many: {arr.Count}: must have at most {maxI.ToJsonString()} items"));
            if (schema["items"] is JsonObject items)
                for (var i = 0; i < arr.Count; i++) ValidateNode(arr[i], items, $"{path}[{i}]", errors);
            // listType set and map: the apiserver rejects duplicates (by value, or by the map keys).
            var listType = Meta.Str(schema["x-kubernetes-list-type"]);
            var keys = (schema["x-kubernetes-list-map-keys"] as JsonArray ?? []).Select(Meta.Str).ToList();
            if (listType is "set" or "map")
                for (var i = 0; i < arr.Count; i++)
                    for (var j = 0; j < i; j++)
                        if (listType == "set" ? JsonNode.DeepEquals(arr[i], arr[j])
                            : keys.All(k => JsonNode.DeepEquals(arr[i]?[k], arr[j]?[k])))
                        {
                            errors.Add(new FieldError($"{field}[{i}]", "FieldValueDuplicate", $"Duplicate value: {arr[i]?.ToJsonString()}"));
                            j = i;
                        }
        }
    }

    /// <summary>anyOf/oneOf/allOf/not as value validation over the same value (structural schemas keep types outside them).</summary>
    static void ValidateJunctors(JsonNode value, JsonObject schema, string path, string field, List<FieldError> errors)
    {
        int Passing(JsonArray branches) => branches.OfType<JsonObject>().Count(b =>
        {
            var scratch = new List<FieldError>();
            ValidateNode(value, b, path, scratch);
            return scratch.Count == 0;
        });
        if (schema["allOf"] is JsonArray all)
            foreach (var b in all.OfType<JsonObject>()) ValidateNode(value, b, path, errors);
        if (schema["anyOf"] is JsonArray any && Passing(any) == 0)
            errors.Add(FieldError.InvalidValue(field, value, "must validate at least one schema (anyOf)"));
        if (schema["oneOf"] is JsonArray one && Passing(one) != 1)
            errors.Add(FieldError.InvalidValue(field, value, "must validate one and only one schema (oneOf)"));
        if (schema["not"] is JsonObject not && Passing(new JsonArray(not.DeepClone())) == 1)
            errors.Add(FieldError.InvalidValue(field, value, "must not validate the schema (not)"));
    }

    static string TypeOf(JsonNode value) => value switch
    {
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Number => v.TryGetValue<long>(out _) || IsIntegral(v) ? "integer" : "number",
            _ => "null",
        },
        _ => "null",
    };

    static bool IsIntegral(JsonValue v) => v.TryGetValue<double>(out var d) && Math.Floor(d) == d && !v.ToJsonString().Contains('.');

    static bool Flag(JsonObject schema, string name) => schema[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
}
