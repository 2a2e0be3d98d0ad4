using System.Globalization;
using k8s.Models;

namespace FastReid.Operator.Tests;

/// <summary>
/// The API server's structural-schema rules (apiextensions.k8s.io/v1), checked node by node, plus the rules on
/// defaults, list-map keys and enums that make a CRD install fail.
/// </summary>
internal static class StructuralSchema
{
    public sealed record Report(List<string> Problems, List<string> PreservedPaths);

    public static Report Check(V1CustomResourceDefinition crd)
    {
        var report = new Report([], []);
        foreach (var version in crd.Spec.Versions)
        {
            var root = version.Schema?.OpenAPIV3Schema;
            if (root is null) { report.Problems.Add($"{version.Name}: no openAPIV3Schema"); continue; }
            if (root.Type != "object") report.Problems.Add("root: type must be object");
            if (root.Properties?.TryGetValue("metadata", out var metadata) == true
                && (metadata.Properties?.Keys.Any(k => k is not ("name" or "generateName")) ?? false))
                report.Problems.Add("metadata: only name and generateName may be constrained");
            Node(root, "", report);
        }
        return report;
    }

    private static void Node(V1JSONSchemaProps node, string path, Report report)
    {
        var where = path.Length == 0 ? "<root>" : path;
        if (node.RefProperty is not null || node.Definitions is not null) report.Problems.Add($"{where}: $ref is not allowed");
        if (node.XKubernetesIntOrString == true)
        {
            if (node.Type is not null) report.Problems.Add($"{where}: int-or-string must not set type");
            if (node.AnyOf is { } anyOf && !(anyOf.Count == 2 && anyOf[0].Type == "integer" && anyOf[1].Type == "string"
                    && anyOf.All(a => a.Description is null && a.DefaultProperty is null && a.Properties is null)))
                report.Problems.Add($"{where}: int-or-string anyOf must be [integer, string]");
        }
        else
        {
            if (node.AnyOf is not null || node.AllOf is not null || node.OneOf is not null || node.Not is not null)
                report.Problems.Add($"{where}: anyOf/allOf/oneOf/not are not generated and not checked");
            if (node.XKubernetesPreserveUnknownFields == true) report.PreservedPaths.Add(where);
            else if (string.IsNullOrEmpty(node.Type)) report.Problems.Add($"{where}: no type");
        }
        if (node.Nullable == true) report.Problems.Add($"{where}: nullable is not used");
        if (node.Type == "object" && node.Properties is not null && node.AdditionalProperties is not null)
            report.Problems.Add($"{where}: properties and additionalProperties together");
        if (node.AdditionalProperties is bool) report.Problems.Add($"{where}: additionalProperties must be a schema");
        if (node.Type == "array" && node.Items is null) report.Problems.Add($"{where}: array without items");
        if (node.Type != "array" && node.Items is not null) report.Problems.Add($"{where}: items on a non-array");
        if (node.EnumProperty is { } values)
            foreach (var value in values)
                if (!Matches(node, value)) report.Problems.Add($"{where}: enum value {value} is not a {node.Type}");
        if (node.DefaultProperty is { } def)
        {
            if (!Matches(node, def)) report.Problems.Add($"{where}: default {def} is not a {node.Type}");
            if (node.EnumProperty is { } allowed && !allowed.Contains(def)) report.Problems.Add($"{where}: default {def} is not in the enum");
            if (def is IConvertible c and not string and not bool)
            {
                double v = c.ToDouble(CultureInfo.InvariantCulture);
                if (node.Minimum is { } min && (node.ExclusiveMinimum == true ? v <= min : v < min)) report.Problems.Add($"{where}: default {v} below minimum {min}");
                if (node.Maximum is { } max && (node.ExclusiveMaximum == true ? v >= max : v > max)) report.Problems.Add($"{where}: default {v} above maximum {max}");
            }
        }
        if (node.Required is { } required)
            foreach (var name in required)
                if (node.Properties?.ContainsKey(name) != true) report.Problems.Add($"{where}: required '{name}' is not a property");
        if (node.XKubernetesListType == "map")
        {
            foreach (var key in node.XKubernetesListMapKeys ?? [])
            {
                var item = node.Items as V1JSONSchemaProps;
                if (item?.Required?.Contains(key) != true && item?.Properties?[key].DefaultProperty is null)
                    report.Problems.Add($"{where}: list-map key '{key}' must be required or defaulted");
            }
        }
        foreach (var rule in node.XKubernetesValidations ?? [])
            if (string.IsNullOrWhiteSpace(rule.Rule) || string.IsNullOrWhiteSpace(rule.Message)) report.Problems.Add($"{where}: CEL rule without rule or message");

        foreach (var (name, child) in node.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
            Node(child, path.Length == 0 ? name : $"{path}.{name}", report);
        if (node.AdditionalProperties is V1JSONSchemaProps additional) Node(additional, $"{path}.*", report);
        if (node.Items is V1JSONSchemaProps items) Node(items, $"{path}[]", report);
    }

    private static bool Matches(V1JSONSchemaProps node, object value) => node.Type switch
    {
        "string" => value is string,
        "boolean" => value is bool,
        "integer" => value is int or long,
        "number" => value is int or long or double,
        _ => true,
    };
}
