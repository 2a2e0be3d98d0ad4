using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Storage;

/// <summary>The outcome of a write: the object as stored, the HTTP code to answer with, and Warning headers.</summary>
internal sealed record WriteResult(JsonObject Object, int Code, IReadOnlyList<string> Warnings);

/// <summary>
/// Kubernetes write semantics over the store: create/update/patch/delete with uid, resourceVersion,
/// generation, status subresource, optimistic concurrency and finalizers. Both HTTP requests and the
/// in-process controllers go through here, so controllers obey the same rules as clients.
/// </summary>
internal sealed partial class ApiOperations(ObjectStore store, ResourceCatalog catalog, AdmissionPolicies? policies = null)
{
    const string GenerateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    int _nextServiceIp = 10;
    Admission? _admission;

    public ObjectStore Store => store;
    public ResourceCatalog Catalog => catalog;

    Admission Admission => _admission ??= new Admission(AllocateServiceIp);

    string AllocateServiceIp()
    {
        var n = Interlocked.Increment(ref _nextServiceIp);
        return $"10.96.{n / 250}.{n % 250 + 1}";
    }

    public JsonObject Get(ResourceType type, string ns, string name)
    {
        lock (store.Gate)
            return store.Get(Key(type, ns, name)) ?? throw ApiException.NotFound(type.Group, type.Plural, name);
    }

    public (List<JsonObject> Items, long Revision) List(ResourceType type, string? ns, LabelSelector labels, FieldSelector fields)
    {
        lock (store.Gate)
        {
            var items = store.List(type.StorageKey, ns)
                .Select(e => e.Object)
                .Where(o => labels.Matches(Meta.Labels(o)) && fields.Matches(o))
                .ToList();
            return (items, store.Revision);
        }
    }

    public WriteResult Create(ResourceType type, string ns, JsonObject body, FieldValidation fieldValidation = FieldValidation.Strict, bool dryRun = false)
    {
        var warnings = new List<string>();
        var obj = body.DeepClone().AsObject();
        CheckTypeMeta(type, obj);
        var meta = Meta.Of(obj);
        ns = CheckNamespace(type, ns, obj);
        if (Meta.Str(meta["resourceVersion"]).Length > 0)
            throw new ApiException(500, "InternalError", "resourceVersion should not be set on objects to be created");
        lock (store.Gate)
        {
            if (type.Namespaced) RequireLiveNamespace(type, ns, obj);
            if (Meta.Name(obj).Length == 0)
            {
                var prefix = Meta.Str(meta["generateName"]);
                if (prefix.Length == 0)
                    throw ApiException.Invalid(type.Group, type.Kind, "", [FieldError.Required("metadata.name", "name or generateName is required")]);
                string candidate;
                do candidate = prefix + RandomSuffix();
                while (store.Get(Key(type, ns, candidate)) is not null);
                meta["name"] = candidate;
            }
            var name = Meta.Name(obj);
            var nameErrors = Rules.NameRules.ValidateName(type, name).ToList();
            if (nameErrors.Count > 0) throw ApiException.Invalid(type.Group, type.Kind, name, nameErrors);
            var key = Key(type, ns, name);
            if (store.Get(key) is not null) throw ApiException.AlreadyExists(type.Group, type.Plural, name);

            foreach (var system in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink", "managedFields" })
                meta.Remove(system);
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Meta.Now();
            if (type.TracksGeneration) meta["generation"] = 1;
            Admission.PrepareForCreate(type, obj);
            Admission.Admit(type, obj, null, fieldValidation, warnings);
            policies?.Admit(type, obj);
            obj = Reorder(obj);
            if (dryRun) return new WriteResult(obj, 201, warnings);
            Meta.SetResourceVersion(obj, store.NextRevision());
            store.Put(key, obj);
            AfterWrite(type, obj);
            return new WriteResult(obj, 201, warnings);
        }
    }

    /// <summary>PUT: a full replacement of the main resource, or of the status when <paramref name="statusWrite"/>.</summary>
    public WriteResult Update(ResourceType type, string ns, string name, JsonObject body, bool statusWrite,
        FieldValidation fieldValidation = FieldValidation.Strict, bool dryRun = false)
    {
        var obj = body.DeepClone().AsObject();
        CheckTypeMeta(type, obj);
        CheckNamespace(type, ns, obj);
        if (Meta.Name(obj) != name)
            throw ApiException.BadRequest($"the name of the object ({Meta.Name(obj)}) does not match the name on the URL ({name})");
        lock (store.Gate)
        {
            var key = Key(type, ns, name);
            var current = store.Get(key) ?? throw ApiException.NotFound(type.Group, type.Plural, name);
            return CommitUpdate(type, key, current, obj, statusWrite, fieldValidation, dryRun);
        }
    }

    /// <summary>PATCH: the patch applies to the stored object, then the result goes through the same rules as a PUT.</summary>
    public WriteResult Patch(ResourceType type, string ns, string name, string contentType, JsonNode? patch, bool statusWrite,
        FieldValidation fieldValidation = FieldValidation.Strict, bool dryRun = false)
    {
        if (contentType is "application/apply-patch+yaml" or "application/apply-patch+cbor")
            throw new ApiException(415, "UnsupportedMediaType", "server-side apply is not emulated; use client-side kubectl apply or a merge patch");
        lock (store.Gate)
        {
            var key = Key(type, ns, name);
            var current = store.Get(key) ?? throw ApiException.NotFound(type.Group, type.Plural, name);
            var patched = contentType switch
            {
                "application/json-patch+json" => Patching.JsonPatch.Apply(current, patch),
                "application/merge-patch+json" => Patching.MergePatch.Apply(current, patch) as JsonObject
                    ?? throw ApiException.BadRequest("merge patch must be a JSON object"),
                "application/strategic-merge-patch+json" when type.IsCustom => throw new ApiException(415, "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources; use application/merge-patch+json or application/json-patch+json"),
                "application/strategic-merge-patch+json" => Patching.StrategicMergePatch.Apply(current, patch),
                _ => throw ApiException.UnsupportedMediaType(contentType),
            };
            if (Meta.Name(patched) != name) throw ApiException.BadRequest("metadata.name cannot be changed by a patch");
            CheckTypeMeta(type, patched);
            return CommitUpdate(type, key, current, patched, statusWrite, fieldValidation, dryRun);
        }
    }

    WriteResult CommitUpdate(ResourceType type, ObjectKey key, JsonObject current, JsonObject incoming, bool statusWrite,
        FieldValidation fieldValidation, bool dryRun)
    {
        var warnings = new List<string>();
        var requested = Meta.Str(incoming["metadata"]?["resourceVersion"]);
        if (requested.Length > 0 && requested != Meta.Str(current["metadata"]?["resourceVersion"]))
            throw ApiException.StaleConflict(type.Group, type.Plural, key.Name);
        // A uid in the body is a precondition: an update meant for an object that was deleted and recreated fails.
        var uid = Meta.Str(incoming["metadata"]?["uid"]);
        if (uid.Length > 0 && uid != Meta.Uid(current))
            throw ApiException.Conflict(type.Group, type.Plural, key.Name,
                $"Precondition failed: UID in precondition: {uid}, UID in object meta: {Meta.Uid(current)}");
        if (requested.Length == 0 && !type.AllowUnconditionalUpdate)
            throw ApiException.Invalid(type.Group, type.Kind, key.Name,
                [FieldError.InvalidValue("metadata.resourceVersion", "0x0", "must be specified for an update")]);

        JsonObject next;
        if (statusWrite)
        {
            // A status write changes status only; the rest of the object is the stored one.
            next = current.DeepClone().AsObject();
            if (incoming["status"] is { } status) next["status"] = status.DeepClone();
            else next.Remove("status");
        }
        else
        {
            next = incoming;
            if (type.HasStatusSubresource)
            {
                if (current["status"] is { } kept) next["status"] = kept.DeepClone();
                else next.Remove("status");
            }
            var meta = Meta.Of(next);
            var old = Meta.Of(current);
            foreach (var system in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace", "selfLink" })
            {
                if (old[system] is { } v) meta[system] = v.DeepClone();
                else meta.Remove(system);
            }
            meta.Remove("managedFields");
            if (Meta.IsDeleting(current))
            {
                var added = Meta.Finalizers(next).Except(Meta.Finalizers(current)).ToList();
                if (added.Count > 0)
                    throw ApiException.Invalid(type.Group, type.Kind, key.Name,
                        [FieldError.Forbidden("metadata.finalizers", $"no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{string.Join("\", \"", added)}\"}}")]);
            }
        }
        Meta.Of(next)["resourceVersion"] = current["metadata"]?["resourceVersion"]?.DeepClone();
        Admission.Admit(type, next, current, fieldValidation, warnings);
        if (!statusWrite) policies?.Admit(type, next);
        if (type.TracksGeneration && !Meta.Same(SpecPart(type, next), SpecPart(type, current)))
            Meta.Of(next)["generation"] = Meta.Generation(current) + 1;
        if (type.StorageKey == "apiextensions.k8s.io/customresourcedefinitions" && !statusWrite)
            Rules.CrdRules.MarkEstablished(next);
        next = Reorder(next);
        // Like etcd3's guaranteed update, a write that changes nothing is not a write: no new revision, no event.
        if (Meta.Same(next, current)) return new WriteResult(current, 200, warnings);
        if (dryRun) return new WriteResult(next, 200, warnings);
        if (Meta.IsDeleting(next) && Meta.Finalizers(next).Count == 0 && !HasNamespaceFinalizers(type, next))
        {
            // Like the apiserver's registry, an update that empties the finalizers of a deleting object
            // becomes the delete itself: watchers see DELETED, never an intermediate MODIFIED.
            var removed = RemoveNow(type, key);
            Meta.Of(next)["resourceVersion"] = removed["metadata"]?["resourceVersion"]?.DeepClone();
            return new WriteResult(next, 200, warnings);
        }
        Meta.SetResourceVersion(next, store.NextRevision());
        store.Put(key, next);
        AfterWrite(type, next);
        return new WriteResult(next, 200, warnings);
    }

    /// <summary>What generation tracks: everything but metadata, and but status when status is a subresource.</summary>
    static JsonNode SpecPart(ResourceType type, JsonObject obj)
    {
        var copy = obj.DeepClone().AsObject();
        copy.Remove("metadata");
        if (type.HasStatusSubresource) copy.Remove("status");
        return copy;
    }

    void AfterWrite(ResourceType type, JsonObject obj)
    {
        if (type.StorageKey == "apiextensions.k8s.io/customresourcedefinitions") catalog.Register(obj);
    }

    static void CheckTypeMeta(ResourceType type, JsonObject obj)
    {
        var apiVersion = Meta.Str(obj["apiVersion"]);
        var kind = Meta.Str(obj["kind"]);
        if (apiVersion.Length == 0) obj["apiVersion"] = apiVersion = type.ApiVersion;
        if (kind.Length == 0) obj["kind"] = kind = type.Kind;
        if (kind != type.Kind || apiVersion != type.ApiVersion)
            throw ApiException.BadRequest($"the API version in the data ({apiVersion}) and kind ({kind}) do not match the expected {type.ApiVersion} {type.Kind}");
    }

    static string CheckNamespace(ResourceType type, string ns, JsonObject obj)
    {
        var meta = Meta.Of(obj);
        var given = Meta.Str(meta["namespace"]);
        if (!type.Namespaced)
        {
            meta.Remove("namespace");
            return "";
        }
        if (given.Length > 0 && given != ns)
            throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        meta["namespace"] = ns;
        return ns;
    }

    void RequireLiveNamespace(ResourceType type, string ns, JsonObject obj)
    {
        var nsObj = store.Get(new ObjectKey(BuiltinResources.Namespaces.StorageKey, "", ns))
            ?? throw ApiException.NotFound("", "namespaces", ns);
        if (Meta.IsDeleting(nsObj))
            throw ApiException.Forbidden(type.Group, type.Plural, Meta.Name(obj),
                $"unable to create new content in namespace {ns} because it is being terminated");
    }

    static bool HasNamespaceFinalizers(ResourceType type, JsonObject obj) =>
        type.StorageKey == "/namespaces" && obj["spec"]?["finalizers"] is JsonArray { Count: > 0 };

    public static ObjectKey Key(ResourceType type, string ns, string name) => new(type.StorageKey, type.Namespaced ? ns : "", name);

    static string RandomSuffix() =>
        new(Enumerable.Range(0, 5).Select(_ => GenerateNameAlphabet[RandomNumberGenerator.GetInt32(GenerateNameAlphabet.Length)]).ToArray());

    /// <summary>apiVersion, kind, metadata, spec first, status last: the order kubectl users are used to reading.</summary>
    static JsonObject Reorder(JsonObject obj)
    {
        var order = new[] { "apiVersion", "kind", "metadata" };
        var result = new JsonObject();
        foreach (var k in order)
            if (obj.ContainsKey(k)) result[k] = obj[k]?.DeepClone();
        foreach (var (k, v) in obj)
            if (!order.Contains(k) && k != "status") result[k] = v?.DeepClone();
        if (obj.ContainsKey("status")) result["status"] = obj["status"]?.DeepClone();
        return result;
    }
}
