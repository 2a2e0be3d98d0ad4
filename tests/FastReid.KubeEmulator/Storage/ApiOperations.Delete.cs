using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Storage;

/// <summary>DeleteOptions as the API receives them (body or query).</summary>
internal sealed record DeleteOptions(string? PropagationPolicy = null, string? PreconditionUid = null,
    string? PreconditionResourceVersion = null, bool DryRun = false);

internal sealed partial class ApiOperations
{
    public const string ForegroundFinalizer = "foregroundDeletion";
    public const string OrphanFinalizer = "orphan";
    static readonly string[] ProtectedNamespaces = ["default", "kube-system", "kube-public"];

    /// <summary>
    /// Deletes now when nothing holds the object, otherwise marks it with deletionTimestamp (finalizers,
    /// foreground propagation, namespaces). Either way the answer is 200 with the object, as the
    /// apiserver answers unless a client sets the legacy orphanDependents=false.
    /// </summary>
    public WriteResult Delete(ResourceType type, string ns, string name, DeleteOptions options)
    {
        var warnings = new List<string>();
        lock (store.Gate)
        {
            var key = Key(type, ns, name);
            var current = store.Get(key) ?? throw ApiException.NotFound(type.Group, type.Plural, name);
            if (options.PreconditionUid is { Length: > 0 } uid && uid != Meta.Uid(current))
                throw ApiException.Conflict(type.Group, type.Plural, name,
                    $"Precondition failed: UID in precondition: {uid}, UID in object meta: {Meta.Uid(current)}");
            if (options.PreconditionResourceVersion is { Length: > 0 } rv && rv != Meta.Str(current["metadata"]?["resourceVersion"]))
                throw ApiException.Conflict(type.Group, type.Plural, name,
                    $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {Meta.Str(current["metadata"]?["resourceVersion"])}");
            if (type.StorageKey == "/namespaces" && ProtectedNamespaces.Contains(name))
                throw ApiException.Forbidden("", "namespaces", name, "this namespace may not be deleted");

            var policy = options.PropagationPolicy;
            if (policy is null && type.StorageKey == "batch/jobs")
            {
                // batch/v1 Jobs keep the legacy default of orphaning their pods; kubectl always says Background.
                policy = "Orphan";
                warnings.Add("child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning");
            }
            if (policy is not (null or "Orphan" or "Background" or "Foreground"))
                throw ApiException.Invalid("meta.k8s.io", "DeleteOptions", "",
                    [FieldError.Unsupported("propagationPolicy", policy, ["Foreground", "Background", "Orphan"])]);
            if (options.DryRun) return new WriteResult(current, 200, warnings);

            var next = current.DeepClone().AsObject();
            var finalizers = Meta.Finalizers(next);
            if (policy == "Orphan") OrphanDependents(current);
            if (policy == "Foreground" && !finalizers.Contains(ForegroundFinalizer)) finalizers.Add(ForegroundFinalizer);

            if (finalizers.Count == 0 && !HasNamespaceFinalizers(type, current))
                return new WriteResult(RemoveNow(type, key), 200, warnings);

            var meta = Meta.Of(next);
            if (!Meta.IsDeleting(next))
            {
                meta["deletionTimestamp"] = Meta.Now();
                meta["deletionGracePeriodSeconds"] = 0;
                if (type.TracksGeneration) meta["generation"] = Meta.Generation(current) + 1;
            }
            Meta.SetFinalizers(next, finalizers);
            if (type.StorageKey == "/namespaces") next["status"] = new JsonObject { ["phase"] = "Terminating" };
            if (Meta.Same(next, current)) return new WriteResult(current, 200, warnings);
            Meta.SetResourceVersion(next, store.NextRevision());
            store.Put(key, next);
            return new WriteResult(next, 200, warnings);
        }
    }

    /// <summary>Removes an object whose finalizers are done. A CRD takes its custom resources with it.</summary>
    JsonObject RemoveNow(ResourceType type, ObjectKey key)
    {
        if (type.StorageKey == "apiextensions.k8s.io/customresourcedefinitions" && store.Get(key) is { } crd)
        {
            foreach (var served in ResourceCatalog.TypesOf(crd).Take(1))
                foreach (var (k, _) in store.List(served.StorageKey, null).ToList())
                    store.Remove(k);
            catalog.Unregister(key.Name);
        }
        return store.Remove(key);
    }

    /// <summary>Final removal of a terminating namespace once its content is gone (the namespace controller's last step).</summary>
    public void FinalizeNamespace(string name)
    {
        lock (store.Gate)
        {
            var key = new ObjectKey(BuiltinResources.Namespaces.StorageKey, "", name);
            if (store.Get(key) is { } ns && Meta.IsDeleting(ns) && Meta.Finalizers(ns).Count == 0
                && !store.All().Any(x => x.Key.Namespace == name))
                store.Remove(key);
        }
    }

    /// <summary>Orphan propagation: dependents lose their owner reference to the deleted object and stay.</summary>
    void OrphanDependents(JsonObject owner)
    {
        var uid = Meta.Uid(owner);
        foreach (var (key, dependent) in store.All().ToList())
        {
            if (!Meta.OwnerReferences(dependent).Any(o => Meta.Str(o["uid"]) == uid)) continue;
            var next = dependent.DeepClone().AsObject();
            var refs = new JsonArray(Meta.OwnerReferences(next).Where(o => Meta.Str(o["uid"]) != uid).Select(o => (JsonNode)o.DeepClone()).ToArray());
            if (refs.Count == 0) Meta.Of(next).Remove("ownerReferences");
            else Meta.Of(next)["ownerReferences"] = refs;
            Meta.SetResourceVersion(next, store.NextRevision());
            store.Put(key, next);
        }
    }

    /// <summary>
    /// Used by the garbage collector and controllers: removes one finalizer, as the component that owns
    /// it would with a PATCH. Returns false when the object is gone or already lacks it.
    /// </summary>
    public bool RemoveFinalizer(ResourceType type, ObjectKey key, string finalizer)
    {
        lock (store.Gate)
        {
            var current = store.Get(key);
            if (current is null || !Meta.Finalizers(current).Contains(finalizer)) return false;
            var next = current.DeepClone().AsObject();
            Meta.SetFinalizers(next, Meta.Finalizers(current).Where(f => f != finalizer).ToList());
            CommitUpdate(type, key, current, next, statusWrite: false, FieldValidation.Ignore, dryRun: false);
            return true;
        }
    }
}
