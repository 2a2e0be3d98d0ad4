using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Storage;

/// <summary>
/// Which resources the server serves right now: the built-ins plus one entry per served version of
/// every established CRD. Readers get an immutable snapshot, so discovery never sees half a CRD.
/// </summary>
internal sealed class ResourceCatalog
{
    readonly Lock _gate = new();
    Dictionary<string, IReadOnlyList<ResourceType>> _crdTypes = new();
    IReadOnlyList<ResourceType> _all = BuiltinResources.All;

    public IReadOnlyList<ResourceType> All => Volatile.Read(ref _all);

    public ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);

    /// <summary>The preferred served type for a storage key (group/plural).</summary>
    public ResourceType? ByStorageKey(string storageKey) => All.FirstOrDefault(t => t.StorageKey == storageKey);

    /// <summary>The type whose objects live under a storage key, at its storage version (for the controllers).</summary>
    public ResourceType? FindByKind(string apiVersion, string kind) =>
        All.FirstOrDefault(t => t.ApiVersion == apiVersion && t.Kind == kind);

    /// <summary>All served groups, each with its versions in preference order (storage version first for CRDs).</summary>
    public IReadOnlyList<(string Group, IReadOnlyList<string> Versions)> Groups()
    {
        var groups = new List<(string, IReadOnlyList<string>)>();
        foreach (var g in All.Select(t => t.Group).Distinct())
            groups.Add((g, All.Where(t => t.Group == g).Select(t => t.Version).Distinct().ToList()));
        return groups;
    }

    public void Register(JsonObject crd)
    {
        var name = crd["metadata"]?["name"]?.GetValue<string>() ?? "";
        var types = TypesOf(crd);
        lock (_gate)
        {
            var next = new Dictionary<string, IReadOnlyList<ResourceType>>(_crdTypes) { [name] = types };
            _crdTypes = next;
            Volatile.Write(ref _all, [.. BuiltinResources.All, .. next.Values.SelectMany(v => v)]);
        }
    }

    public void Unregister(string crdName)
    {
        lock (_gate)
        {
            var next = new Dictionary<string, IReadOnlyList<ResourceType>>(_crdTypes);
            next.Remove(crdName);
            _crdTypes = next;
            Volatile.Write(ref _all, [.. BuiltinResources.All, .. next.Values.SelectMany(v => v)]);
        }
    }

    public static IReadOnlyList<ResourceType> TypesOf(JsonObject crd)
    {
        var spec = crd["spec"]!.AsObject();
        var names = spec["names"]!.AsObject();
        var group = spec["group"]!.GetValue<string>();
        var plural = names["plural"]!.GetValue<string>();
        var kind = names["kind"]!.GetValue<string>();
        var singular = names["singular"]?.GetValue<string>() ?? kind.ToLowerInvariant();
        var shortNames = Strings(names["shortNames"]);
        var categories = Strings(names["categories"]);
        var namespaced = (spec["scope"]?.GetValue<string>() ?? "Namespaced") == "Namespaced";
        var result = new List<ResourceType>();
        // Storage version first: kubectl prefers the first listed version of a group.
        var versions = (spec["versions"]?.AsArray() ?? []).OfType<JsonObject>()
            .OrderByDescending(v => v["storage"]?.GetValue<bool>() == true).ToList();
        foreach (var v in versions)
        {
            if (v["served"]?.GetValue<bool>() == false) continue;
            var columns = new List<PrinterColumn>();
            foreach (var c in (v["additionalPrinterColumns"]?.AsArray() ?? []).OfType<JsonObject>())
                columns.Add(new PrinterColumn(c["name"]!.GetValue<string>(), c["type"]?.GetValue<string>() ?? "string",
                    c["jsonPath"]!.GetValue<string>(), c["description"]?.GetValue<string>() ?? "",
                    c["priority"]?.GetValue<int>() ?? 0, c["format"]?.GetValue<string>() ?? ""));
            if (columns.Count == 0) columns.Add(new PrinterColumn("Age", "date", ".metadata.creationTimestamp"));
            result.Add(new ResourceType(group, v["name"]!.GetValue<string>(), plural, singular, kind, namespaced, shortNames, categories,
                HasStatusSubresource: v["subresources"]?["status"] is not null,
                TracksGeneration: true,
                AllowUnconditionalUpdate: false,
                Schema: v["schema"]?["openAPIV3Schema"]?.AsObject(),
                PrinterColumns: columns,
                IsCustom: true));
        }
        return result;
    }

    static List<string> Strings(JsonNode? node) =>
        node is JsonArray a ? a.Select(x => x?.GetValue<string>() ?? "").Where(s => s.Length > 0).ToList() : [];
}
