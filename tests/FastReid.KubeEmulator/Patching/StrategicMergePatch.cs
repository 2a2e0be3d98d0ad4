using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Patching;

/// <summary>
/// Strategic merge patch for the built-in kinds: a JSON merge patch in which the lists Kubernetes marks
/// with <c>patchStrategy=merge</c> merge element-wise by their merge key, and the directives kubectl
/// emits (<c>$patch</c>, <c>$setElementOrder/</c>, <c>$deleteFromPrimitiveList/</c>, <c>$retainKeys</c>)
/// are honoured instead of being stored. Merge keys are known by field name, which is exact for the
/// fields of the kinds this emulator serves.
/// </summary>
internal static class StrategicMergePatch
{
    static readonly Dictionary<string, string> MergeKeys = new()
    {
        ["containers"] = "name", ["initContainers"] = "name", ["ephemeralContainers"] = "name", ["env"] = "name",
        ["volumes"] = "name", ["volumeMounts"] = "mountPath", ["volumeDevices"] = "devicePath", ["imagePullSecrets"] = "name",
        ["hostAliases"] = "ip", ["conditions"] = "type", ["ownerReferences"] = "uid", ["topologySpreadConstraints"] = "topologyKey",
        ["resourceClaims"] = "name", ["containerStatuses"] = "name", ["initContainerStatuses"] = "name", ["podIPs"] = "ip",
    };

    /// <summary>Lists of scalars merged as sets.</summary>
    static readonly HashSet<string> PrimitiveMergeLists = ["finalizers"];

    public static JsonObject Apply(JsonObject target, JsonNode? patch)
    {
        if (patch is not JsonObject p) throw ApiException.BadRequest("strategic merge patch must be a JSON object");
        return MergeObject(target, p) ?? new JsonObject();
    }

    static JsonObject? MergeObject(JsonObject? target, JsonObject patch)
    {
        switch (patch["$patch"]?.GetValue<string>())
        {
            case "delete": return null;
            case "replace": return (JsonObject)Clean(patch)!;
        }
        var result = target?.DeepClone().AsObject() ?? new JsonObject();
        foreach (var (key, value) in patch)
        {
            if (key is "$patch" or "$retainKeys" || key.StartsWith("$setElementOrder/", StringComparison.Ordinal)) continue;
            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = key["$deleteFromPrimitiveList/".Length..];
                if (result[field] is JsonArray existing && value is JsonArray remove)
                    foreach (var item in existing.Where(e => remove.Any(r => JsonNode.DeepEquals(e, r))).ToList())
                        existing.Remove(item);
                continue;
            }
            if (value is null) { result.Remove(key); continue; }
            if (value is JsonObject vo)
            {
                var merged = MergeObject(result[key] as JsonObject, vo);
                if (merged is null) result.Remove(key); else result[key] = merged;
            }
            else if (value is JsonArray va && MergeKeys.TryGetValue(key, out var mergeKey))
                result[key] = MergeList(result[key] as JsonArray, va, mergeKey);
            // Container ports merge on containerPort, Service ports on port: tell them apart by content.
            else if (value is JsonArray pa && key == "ports")
                result[key] = MergeList(result[key] as JsonArray, pa, pa.OfType<JsonObject>().Any(e => e["containerPort"] is not null) ? "containerPort" : "port");
            else if (value is JsonArray prim && PrimitiveMergeLists.Contains(key))
            {
                var union = result[key] is JsonArray ex ? ex.Select(x => x?.DeepClone()).ToList() : [];
                foreach (var item in prim)
                    if (!union.Any(u => JsonNode.DeepEquals(u, item))) union.Add(item?.DeepClone());
                result[key] = new JsonArray(union.ToArray());
            }
            else result[key] = Clean(value);
        }
        foreach (var (key, value) in patch)
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) && value is JsonArray order)
                Reorder(result, key["$setElementOrder/".Length..], order);
        if (patch["$retainKeys"] is JsonArray retain)
        {
            var keep = retain.Select(k => k?.GetValue<string>()).ToHashSet();
            foreach (var k in result.Select(kv => kv.Key).Where(k => !keep.Contains(k)).ToList()) result.Remove(k);
        }
        return result;
    }

    static JsonArray MergeList(JsonArray? target, JsonArray patch, string mergeKey)
    {
        if (patch.OfType<JsonObject>().Any(e => e["$patch"]?.GetValue<string>() == "replace"))
            return new JsonArray(patch.OfType<JsonObject>().Where(e => e["$patch"] is null).Select(Clean).ToArray());
        var result = target?.DeepClone().AsArray() ?? [];
        foreach (var item in patch)
        {
            if (item is not JsonObject po || po[mergeKey] is not { } keyValue)
            {
                result.Add(Clean(item));
                continue;
            }
            var index = IndexOf(result, mergeKey, keyValue);
            if (po["$patch"]?.GetValue<string>() == "delete")
            {
                if (index >= 0) result.RemoveAt(index);
                continue;
            }
            if (index >= 0) result[index] = MergeObject(result[index] as JsonObject, po);
            else result.Add(MergeObject(null, po));
        }
        return result;
    }

    static int IndexOf(JsonArray list, string mergeKey, JsonNode keyValue)
    {
        for (var i = 0; i < list.Count; i++)
            if (list[i] is JsonObject o && JsonNode.DeepEquals(o[mergeKey], keyValue)) return i;
        return -1;
    }

    static void Reorder(JsonObject result, string field, JsonArray order)
    {
        if (result[field] is not JsonArray list) return;
        var mergeKey = MergeKeys.GetValueOrDefault(field);
        var items = list.Select(x => x?.DeepClone()).ToList();
        var ordered = new List<JsonNode?>();
        foreach (var o in order)
        {
            var match = items.FirstOrDefault(i => mergeKey is not null && o is JsonObject oo
                ? i is JsonObject io && JsonNode.DeepEquals(io[mergeKey], oo[mergeKey])
                : JsonNode.DeepEquals(i, o));
            if (match is null) continue;
            ordered.Add(match);
            items.Remove(match);
        }
        ordered.AddRange(items);
        result[field] = new JsonArray(ordered.ToArray());
    }

    /// <summary>A copy with directive keys removed, for values stored as-is.</summary>
    static JsonNode? Clean(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Where(kv => !kv.Key.StartsWith('$')).Select(kv => KeyValuePair.Create(kv.Key, Clean(kv.Value)))),
        JsonArray a => new JsonArray(a.Select(Clean).ToArray()),
        _ => node?.DeepClone(),
    };
}
