using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Controllers;

/// <summary>
/// Owner-reference garbage collection: a dependent whose owners are all gone is deleted (background
/// cascading); one that keeps some owners loses the dangling references. Foreground deletion waits
/// for the owner's dependents to go before its foregroundDeletion finalizer is removed.
/// </summary>
internal sealed class GarbageCollector(ApiOperations ops)
{
    public void Handle(StoredEvent e)
    {
        var uid = Meta.Uid(e.Object);
        if (e.Type == "DELETED")
        {
            foreach (var (key, dependent) in Snapshot(d => Meta.OwnerReferences(d).Any(o => Meta.Str(o["uid"]) == uid)))
                Collect(key, dependent);
            foreach (var owner in Meta.OwnerReferences(e.Object)) FinishForeground(Meta.Str(owner["uid"]));
            return;
        }
        if (Meta.OwnerReferences(e.Object).Any()) Collect(e.Key, e.Object);
        if (Meta.IsDeleting(e.Object) && Meta.Finalizers(e.Object).Contains(ApiOperations.ForegroundFinalizer))
        {
            foreach (var (key, _) in Snapshot(d => Meta.OwnerReferences(d).Any(o => Meta.Str(o["uid"]) == uid)))
                DeleteQuietly(key, "Foreground");
            FinishForeground(uid);
        }
    }

    void Collect(ObjectKey key, JsonObject dependent)
    {
        var owners = Meta.OwnerReferences(dependent).ToList();
        List<JsonObject> dangling;
        lock (ops.Store.Gate) dangling = owners.Where(o => ops.Store.FindByUid(Meta.Str(o["uid"])) is null).ToList();
        if (dangling.Count == 0) return;
        if (dangling.Count == owners.Count)
        {
            DeleteQuietly(key, "Background");
            return;
        }
        var type = ops.Catalog.ByStorageKey(key.StorageKey);
        if (type is null) return;
        var keep = owners.Except(dangling).Select(o => (JsonNode)o.DeepClone()).ToArray();
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["ownerReferences"] = new JsonArray(keep) } };
        try
        {
            ops.Patch(type, key.Namespace, key.Name, "application/merge-patch+json", patch, statusWrite: false, FieldValidation.Ignore);
        }
        catch (ApiException ex) when (ex.Code is 404 or 409) { }
    }

    void FinishForeground(string ownerUid)
    {
        ObjectKey? ownerKey;
        lock (ops.Store.Gate) ownerKey = ops.Store.FindByUid(ownerUid);
        if (ownerKey is not { } key) return;
        var remaining = Snapshot(d => Meta.OwnerReferences(d).Any(o => Meta.Str(o["uid"]) == ownerUid)).Count;
        if (remaining > 0) return;
        if (ops.Catalog.ByStorageKey(key.StorageKey) is { } type)
            ops.RemoveFinalizer(type, key, ApiOperations.ForegroundFinalizer);
    }

    void DeleteQuietly(ObjectKey key, string policy)
    {
        if (ops.Catalog.ByStorageKey(key.StorageKey) is not { } type) return;
        try
        {
            ops.Delete(type, key.Namespace, key.Name, new DeleteOptions(policy));
        }
        catch (ApiException ex) when (ex.Code == 404) { }
    }

    List<(ObjectKey Key, JsonObject Object)> Snapshot(Func<JsonObject, bool> predicate)
    {
        lock (ops.Store.Gate) return ops.Store.All().Where(x => predicate(x.Object)).ToList();
    }
}
