using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Schema;

/// <summary>
/// The definitions OpenAPI v2 publishes for kubectl's client-side validation, which kubectl still runs
/// for a <c>v1 List</c> (its OpenAPI v3 field-validation check answers "unsupported" for List, so it
/// validates every item against <c>/openapi/v2</c> before sending any): the meta types the apiserver
/// references (List, ObjectMeta, ListMeta) and, per served CRD version, the kind and its list built as
/// the apiserver builds them for v2: junctors, defaults and nullable types dropped, preserved trees
/// reduced to untyped values (kubectl would otherwise call their fields unknown), metadata replaced by
/// ObjectMeta, apiVersion and kind added. Built-in kinds are left out on purpose: kubectl computes its
/// strategic merge patches from any v2 definition it finds, and without the apiserver's exact patch
/// metadata those patches would differ from the ones its compiled-in types give; a listed built-in is
/// still checked by the server's strict field validation.
/// </summary>
internal static class OpenApiV2Schemas
{
    const string MetaPrefix = "io.k8s.apimachinery.pkg.apis.meta.v1.";
    const string ObjectMetaRef = "#/definitions/" + MetaPrefix + "ObjectMeta";
    const string ListMetaRef = "#/definitions/" + MetaPrefix + "ListMeta";

    public static JsonObject Definitions(IEnumerable<ResourceType> types)
    {
        var definitions = (JsonObject)JsonNode.Parse(MetaDefinitions)!;
        foreach (var t in types.Where(t => t.IsCustom))
        {
            definitions[Name(t, t.Kind)] = Kind(t);
            definitions[Name(t, t.ListKind)] = List(t);
        }
        return definitions;
    }

    /// <summary>io.fastreid.v1alpha1.ReidExperiment: the reversed group, the version and the kind, as the apiserver names CRD definitions.</summary>
    public static string Name(ResourceType t, string kind) => $"{string.Join('.', t.Group.Split('.').Reverse())}.{t.Version}.{kind}";

    static JsonObject Kind(ResourceType t)
    {
        JsonObject definition;
        if (t.Schema is null || Flag(t.Schema, "x-kubernetes-preserve-unknown-fields"))
            // No properties at all, not even metadata: kubectl would take them as the only fields allowed.
            definition = new JsonObject { ["type"] = "object" };
        else
        {
            definition = t.Schema.DeepClone().AsObject();
            Convert(definition);
            AddKindProperties(definition);
        }
        definition["x-kubernetes-group-version-kind"] = Gvk(t, t.Kind);
        return definition;
    }

    static JsonObject List(ResourceType t) => new()
    {
        ["description"] = $"{t.ListKind} is a list of {t.Kind}",
        ["type"] = "object",
        ["required"] = new JsonArray("items"),
        ["properties"] = new JsonObject
        {
            ["apiVersion"] = TypeMetaField("apiVersion"),
            ["items"] = new JsonObject
            {
                ["description"] = $"List of {t.Plural}.",
                ["type"] = "array",
                ["items"] = new JsonObject { ["$ref"] = "#/definitions/" + Name(t, t.Kind) },
            },
            ["kind"] = TypeMetaField("kind"),
            ["metadata"] = new JsonObject { ["description"] = "Standard list metadata.", ["$ref"] = ListMetaRef },
        },
        ["x-kubernetes-group-version-kind"] = Gvk(t, t.ListKind),
    };

    /// <summary>The apiserver's reduction of a structural schema to what OpenAPI v2 and kubectl's validator understand.</summary>
    static void Convert(JsonObject s)
    {
        foreach (var key in new[] { "allOf", "oneOf", "anyOf", "not", "default" }) s.Remove(key);
        var preserve = Flag(s, "x-kubernetes-preserve-unknown-fields");
        if (Flag(s, "nullable"))
        {
            // An untyped value: kubectl cannot check null against a type.
            s.Remove("type");
            s.Remove("items");
            s.Remove("properties");
        }
        s.Remove("nullable");
        if (preserve)
        {
            s.Remove("items");
            s.Remove("properties");
        }
        if (Meta.Str(s["type"]) == "array" && s["items"] is null) s.Remove("type");
        if (preserve && Meta.Str(s["type"]) == "object") s.Remove("type");

        if (s["properties"] is JsonObject properties)
            foreach (var (name, property) in properties)
                if (property is JsonObject p && Flag(p, "nullable")) RemoveRequired(s, name);
        if (s["additionalProperties"] is JsonObject additional && Flag(additional, "nullable")) s.Remove("required");

        if (s["properties"] is JsonObject children)
            foreach (var (_, child) in children)
                if (child is JsonObject c) Convert(c);
        if (s["additionalProperties"] is JsonObject values) Convert(values);
        switch (s["items"])
        {
            case JsonObject item: Convert(item); break;
            case JsonArray items: foreach (var item in items.OfType<JsonObject>()) Convert(item); break;
        }
        if (Flag(s, "x-kubernetes-embedded-resource") && !preserve)
        {
            AddKindProperties(s);
            if (s["required"] is not JsonArray required) s["required"] = required = [];
            foreach (var field in new[] { "kind", "apiVersion" })
                if (!required.Any(r => Meta.Str(r) == field)) required.Add(field);
        }
    }

    static void AddKindProperties(JsonObject s)
    {
        if (s["properties"] is not JsonObject properties) s["properties"] = properties = [];
        properties["apiVersion"] = TypeMetaField("apiVersion");
        properties["kind"] = TypeMetaField("kind");
        properties["metadata"] = new JsonObject { ["description"] = "Standard object's metadata.", ["$ref"] = ObjectMetaRef };
    }

    static void RemoveRequired(JsonObject s, string name)
    {
        if (s["required"] is not JsonArray required) return;
        foreach (var entry in required.Where(r => Meta.Str(r) == name).ToList()) required.Remove(entry);
        if (required.Count == 0) s.Remove("required");
    }

    static JsonObject TypeMetaField(string name) => new()
    {
        ["description"] = name == "kind" ? "The REST resource this object represents, in CamelCase." : "The versioned schema of this representation of an object.",
        ["type"] = "string",
    };

    static JsonArray Gvk(ResourceType t, string kind) => new(new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = kind });

    static bool Flag(JsonObject s, string key) => s[key] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    /// <summary>The meta.k8s.io/v1 types the definitions above reference, with the apiserver's names, fields and patch metadata.</summary>
    const string MetaDefinitions = """
        {
          "io.k8s.apimachinery.pkg.apis.meta.v1.List": {
            "description": "List holds a list of objects, which may not be known by the server.",
            "type": "object",
            "required": ["items"],
            "properties": {
              "apiVersion": {"type": "string"},
              "items": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension"}},
              "kind": {"type": "string"},
              "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"}
            }
          },
          "io.k8s.apimachinery.pkg.runtime.RawExtension": {
            "description": "An embedded object of any kind.",
            "type": "object"
          },
          "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta": {
            "description": "Metadata of a list.",
            "type": "object",
            "properties": {
              "continue": {"type": "string"},
              "remainingItemCount": {"type": "integer", "format": "int64"},
              "resourceVersion": {"type": "string"},
              "selfLink": {"type": "string"}
            }
          },
          "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
            "description": "Metadata every persisted resource has.",
            "type": "object",
            "properties": {
              "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
              "creationTimestamp": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"},
              "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
              "deletionTimestamp": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"},
              "finalizers": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
              "generateName": {"type": "string"},
              "generation": {"type": "integer", "format": "int64"},
              "labels": {"type": "object", "additionalProperties": {"type": "string"}},
              "managedFields": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"},
                "x-kubernetes-list-type": "atomic"},
              "name": {"type": "string"},
              "namespace": {"type": "string"},
              "ownerReferences": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"},
                "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map",
                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
              "resourceVersion": {"type": "string"},
              "selfLink": {"type": "string"},
              "uid": {"type": "string"}
            }
          },
          "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference": {
            "description": "Identifies an owning object.",
            "type": "object",
            "required": ["apiVersion", "kind", "name", "uid"],
            "properties": {
              "apiVersion": {"type": "string"},
              "blockOwnerDeletion": {"type": "boolean"},
              "controller": {"type": "boolean"},
              "kind": {"type": "string"},
              "name": {"type": "string"},
              "uid": {"type": "string"}
            },
            "x-kubernetes-map-type": "atomic"
          },
          "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry": {
            "description": "A workflow that manages a set of fields.",
            "type": "object",
            "properties": {
              "apiVersion": {"type": "string"},
              "fieldsType": {"type": "string"},
              "fieldsV1": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"},
              "manager": {"type": "string"},
              "operation": {"type": "string"},
              "subresource": {"type": "string"},
              "time": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}
            }
          },
          "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": {
            "description": "A set of fields in JSON trie form.",
            "type": "object"
          },
          "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {
            "description": "An RFC 3339 timestamp with second precision.",
            "type": "string",
            "format": "date-time"
          }
        }
        """;
}
