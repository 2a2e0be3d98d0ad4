using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FastReid.Operator.Tests.Packaging;

/// <summary>
/// Checks a JSON value against the draft-07 keywords values.schema.json uses (type, properties, required,
/// additionalProperties, enum, minimum, maximum, minLength, pattern, items, $ref to #/definitions). A
/// keyword outside that list is reported as a problem, so the schema never silently promises a check
/// that nothing performs.
/// </summary>
internal static class JsonSchemaChecker
{
    private static readonly HashSet<string> Annotations = ["$schema", "title", "description", "definitions", "default"];

    public static List<string> Check(JsonObject schema, JsonNode? value)
    {
        var problems = new List<string>();
        Check(schema, schema, value, "values", problems);
        return problems;
    }

    private static void Check(JsonObject root, JsonObject schema, JsonNode? value, string path, List<string> problems)
    {
        if (schema["$ref"] is JsonValue reference)
        {
            var target = reference.GetValue<string>();
            const string prefix = "#/definitions/";
            if (!target.StartsWith(prefix, StringComparison.Ordinal) || root["definitions"]?[target[prefix.Length..]] is not JsonObject resolved)
            {
                problems.Add($"{path}: unresolvable $ref '{target}'");
                return;
            }
            Check(root, resolved, value, path, problems);
            return;
        }

        foreach (var (keyword, _) in schema)
        {
            if (!Annotations.Contains(keyword) && keyword is not ("type" or "properties" or "required" or "additionalProperties" or "enum"
                    or "minimum" or "maximum" or "minLength" or "pattern" or "items"))
                problems.Add($"{path}: schema keyword '{keyword}' is not checked by this checker");
        }

        if (schema["type"] is { } type)
        {
            var allowed = type is JsonArray many ? many.Select(t => t!.GetValue<string>()).ToList() : [type.GetValue<string>()];
            if (!allowed.Any(t => IsType(value, t)))
            {
                problems.Add($"{path}: must be {string.Join(" or ", allowed)}, got {Describe(value)}");
                return;
            }
        }

        if (schema["enum"] is JsonArray options && !options.Any(o => JsonNode.DeepEquals(o, value)))
            problems.Add($"{path}: must be one of {options.ToJsonString()}, got {Describe(value)}");

        if (value is JsonValue number && number.GetValueKind() == JsonValueKind.Number)
        {
            var n = double.Parse(number.ToJsonString(), CultureInfo.InvariantCulture);
            if (schema["minimum"] is { } min && n < min.GetValue<double>()) problems.Add($"{path}: must be >= {min}, got {n}");
            if (schema["maximum"] is { } max && n > max.GetValue<double>()) problems.Add($"{path}: must be <= {max}, got {n}");
        }

        if (value is JsonValue text && text.GetValueKind() == JsonValueKind.String)
        {
            var s = text.GetValue<string>();
            if (schema["minLength"] is { } minLength && s.Length < minLength.GetValue<int>()) problems.Add($"{path}: must have at least {minLength} characters");
            if (schema["pattern"] is { } pattern && !Regex.IsMatch(s, pattern.GetValue<string>()))
                problems.Add($"{path}: '{s}' does not match {pattern.GetValue<string>()}");
        }

        if (value is JsonObject obj)
        {
            var properties = schema["properties"] as JsonObject ?? [];
            foreach (var required in (schema["required"] as JsonArray ?? []).Select(r => r!.GetValue<string>()))
                if (!obj.ContainsKey(required)) problems.Add($"{path}.{required}: is required");
            foreach (var (name, child) in obj)
            {
                if (properties[name] is JsonObject childSchema) Check(root, childSchema, child, $"{path}.{name}", problems);
                else if (schema["additionalProperties"] is JsonObject extra) Check(root, extra, child, $"{path}.{name}", problems);
                else if (schema["additionalProperties"] is JsonValue allowed && !allowed.GetValue<bool>())
                    problems.Add($"{path}.{name}: is not a known value (allowed: {string.Join(", ", properties.Select(p => p.Key))})");
            }
        }

        if (value is JsonArray array && schema["items"] is JsonObject items)
            for (int i = 0; i < array.Count; i++) Check(root, items, array[i], $"{path}[{i}]", problems);
    }

    private static bool IsType(JsonNode? value, string type) => (type, value) switch
    {
        ("null", null) => true,
        ("object", JsonObject) => true,
        ("array", JsonArray) => true,
        ("string", JsonValue v) => v.GetValueKind() == JsonValueKind.String,
        ("boolean", JsonValue v) => v.GetValueKind() is JsonValueKind.True or JsonValueKind.False,
        ("number", JsonValue v) => v.GetValueKind() == JsonValueKind.Number,
        ("integer", JsonValue v) => v.GetValueKind() == JsonValueKind.Number && Math.Floor(double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture)) == double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture),
        _ => false,
    };

    private static string Describe(JsonNode? value) => value is null ? "null" : value.ToJsonString();
}
