using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Controllers;

/// <summary>Empties a terminating namespace, then removes it, as the namespace lifecycle controller does.</summary>
internal sealed class NamespaceController(ApiOperations ops)
{
    public void Handle(StoredEvent e)
    {
        if (e.Key.StorageKey == BuiltinResources.Namespaces.StorageKey && e.Type != "DELETED" && Meta.IsDeleting(e.Object))
            Drain(e.Key.Name);
        else if (e.Type == "DELETED" && e.Key.Namespace.Length > 0)
            Drain(e.Key.Namespace, deleteContent: false);
    }

    void Drain(string ns, bool deleteContent = true)
    {
        List<ObjectKey> content;
        lock (ops.Store.Gate)
        {
            var nsObj = ops.Store.Get(new ObjectKey(BuiltinResources.Namespaces.StorageKey, "", ns));
            if (nsObj is null || !Meta.IsDeleting(nsObj)) return;
            content = ops.Store.All().Where(x => x.Key.Namespace == ns).Select(x => x.Key).ToList();
        }
        if (content.Count == 0)
        {
            ops.FinalizeNamespace(ns);
            return;
        }
        if (!deleteContent) return;
        foreach (var key in content)
        {
            if (ops.Catalog.ByStorageKey(key.StorageKey) is not { } type) continue;
            try
            {
                ops.Delete(type, key.Namespace, key.Name, new DeleteOptions("Background"));
            }
            catch (ApiException ex) when (ex.Code == 404) { }
        }
        ops.FinalizeNamespace(ns);
    }
}
