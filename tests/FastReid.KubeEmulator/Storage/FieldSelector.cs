using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Storage;

/// <summary>
/// A field selector (<c>metadata.name=x,status.phase!=Running</c>). Like the apiserver, only the fields a
/// kind declares selectable are accepted; anything else is a 400 so tests do not silently match all.
/// </summary>
internal sealed class FieldSelector
{
    sealed record Term(string Field, bool Negated, string Value);

    static readonly string[] Common = ["metadata.name", "metadata.namespace"];

    static readonly Dictionary<string, string[]> PerKind = new()
    {
        ["/pods"] = ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
            "status.phase", "status.podIP", "status.nominatedNodeName"],
        ["/events"] = ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
            "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
            "source", "type"],
        ["events.k8s.io/events"] = ["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "type"],
        ["/secrets"] = ["type"],
        ["/namespaces"] = ["status.phase"],
        ["batch/jobs"] = ["status.successful"],
    };

    readonly List<Term> _terms = [];

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        var selector = new FieldSelector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        var allowed = PerKind.TryGetValue(type.StorageKey, out var extra) ? Common.Concat(extra).ToHashSet() : Common.ToHashSet();
        foreach (var part in text.Split(','))
        {
            var p = part.Trim();
            var negated = p.Contains("!=");
            var pieces = p.Split(negated ? "!=" : p.Contains("==") ? "==" : "=", 2);
            if (pieces.Length != 2) throw ApiException.BadRequest($"invalid selector: '{text}'; can't understand '{p}'");
            var field = pieces[0].Trim();
            if (!allowed.Contains(field))
                throw ApiException.BadRequest($"field label not supported: {field}");
            selector._terms.Add(new Term(field, negated, pieces[1].Trim()));
        }
        return selector;
    }

    public bool Matches(JsonObject obj) => _terms.All(t => (Value(obj, t.Field) == t.Value) != t.Negated);

    static string Value(JsonObject obj, string field)
    {
        if (field == "status.successful") field = "status.succeeded";
        JsonNode? node = obj;
        foreach (var part in field.Split('.')) node = node?[part];
        if (field == "source") node = obj["source"]?["component"];
        return node switch
        {
            null => "",
            JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
            _ => Meta.Str(node),
        };
    }
}
