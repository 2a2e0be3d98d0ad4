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
        foreach (var e in ValidateLabels(Meta.StringMap(obj["metadata"]?["labels"]), "metadata.labels")) yield return e;
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

    /// <summary>apimachinery's ValidateLabels: qualified keys, values of at most 63 characters in the label alphabet.</summary>
    public static IEnumerable<FieldError> ValidateLabels(IReadOnlyDictionary<string, string> labels, string path)
    {
        foreach (var (key, value) in labels)
        {
            if (!QualifiedName(key)) yield return FieldError.InvalidValue(path, key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
            if (value.Length > 63) yield return FieldError.InvalidValue(path, value, "must be no more than 63 characters");
            if (value.Length > 0 && !LabelValue().IsMatch(value))
                yield return FieldError.InvalidValue(path, value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
        }
    }

    /// <summary>apimachinery's IsConfigMapKey, which also checks Secret keys: the key of a secretKeyRef or configMapKeyRef.</summary>
    public static IEnumerable<FieldError> ValidateConfigKey(string key, string path)
    {
        if (key.Length == 0)
        {
            yield return FieldError.Required(path);
            yield break;
        }
        if (key.Length > 253) yield return FieldError.InvalidValue(path, key, "must be no more than 253 characters");
        if (!ConfigKey().IsMatch(key))
            yield return FieldError.InvalidValue(path, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
        if (key == ".") yield return FieldError.InvalidValue(path, key, "must not be '.'");
        else if (key == "..") yield return FieldError.InvalidValue(path, key, "must not be '..'");
        else if (key.StartsWith("..", StringComparison.Ordinal)) yield return FieldError.InvalidValue(path, key, "must not start with '..'");
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

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigKey();
}
