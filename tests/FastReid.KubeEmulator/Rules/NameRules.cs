using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Rules;

/// <summary>apimachinery's name, label and annotation validation, with its error wording.</summary>
internal static partial class NameRules
{
    public static IEnumerable<FieldError> ValidateName(ResourceType type, string name)
    {
        // Namespaces and Services become DNS labels (hostnames); everything else is a DNS subdomain.
        if (type.Plural is "namespaces" or "services")
        {
            if (name.Length > 63 || !DnsLabel().IsMatch(name))
                yield return FieldError.InvalidValue("metadata.name", name,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
        }
        else if (name.Length > 253 || !DnsSubdomain().IsMatch(name))
            yield return FieldError.InvalidValue("metadata.name", name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    }

    public static IEnumerable<FieldError> ValidateMetadata(JsonObject obj)
    {
        foreach (var (key, value) in Meta.Labels(obj))
        {
            if (!QualifiedName(key)) yield return FieldError.InvalidValue("metadata.labels", key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
            if (value.Length > 63 || (value.Length > 0 && !LabelValue().IsMatch(value)))
                yield return FieldError.InvalidValue("metadata.labels", value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        }
        if (obj["metadata"]?["labels"] is JsonObject labels && labels.Any(kv => kv.Value is not JsonValue v || !v.TryGetValue<string>(out _)))
            yield return FieldError.TypeInvalid("metadata.labels", null, "label values must be strings");
        if (obj["metadata"]?["annotations"] is JsonObject annotations)
            foreach (var (key, value) in annotations)
            {
                if (!QualifiedName(key)) yield return FieldError.InvalidValue("metadata.annotations", key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
                if (value is not JsonValue v || !v.TryGetValue<string>(out _)) yield return FieldError.TypeInvalid($"metadata.annotations[{key}]", null, "annotation values must be strings");
            }
        foreach (var f in Meta.Finalizers(obj))
            if (!QualifiedName(f)) yield return FieldError.InvalidValue("metadata.finalizers", f, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        var i = 0;
        foreach (var owner in Meta.OwnerReferences(obj))
        {
            foreach (var field in new[] { "apiVersion", "kind", "name", "uid" })
                if (Meta.Str(owner[field]).Length == 0) yield return FieldError.Required($"metadata.ownerReferences[{i}].{field}");
            i++;
        }
        if (Meta.OwnerReferences(obj).Count(o => o["controller"] is JsonValue c && c.TryGetValue<bool>(out var b) && b) > 1)
            yield return FieldError.InvalidValue("metadata.ownerReferences", null, "Only one reference can have Controller set to true");
    }

    public static bool IsDnsLabel(string s) => s.Length <= 63 && DnsLabel().IsMatch(s);

    static bool QualifiedName(string key)
    {
        var slash = key.IndexOf('/');
        var (prefix, name) = slash < 0 ? ("", key) : (key[..slash], key[(slash + 1)..]);
        if (slash >= 0 && (prefix.Length == 0 || prefix.Length > 253 || !DnsSubdomain().IsMatch(prefix))) return false;
        return name.Length is > 0 and <= 63 && LabelValue().IsMatch(name);
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}
