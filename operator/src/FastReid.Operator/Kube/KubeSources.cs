using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Runtime;
using FastReid.Pipeline.Experiments;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FastReid.Operator.Kube;

/// <summary>List and watch functions for the kinds the operator follows, in one namespace or all of them.</summary>
public sealed class KubeSources(IKubernetes client, string? watchNamespace)
{
    /// <summary>Children are watched only when the operator made them.</summary>
    public const string ChildSelector = ExperimentNames.ManagedByLabel + "=" + ExperimentNames.ManagedBy;

    /// <summary>Servers end a watch after this long; the informer then re-watches from its last version.</summary>
    private const int WatchTimeoutSeconds = 300;

    /// <summary>One of our kinds, as raw JSON (a spec the types cannot read must not stop the informer).</summary>
    public ResourceSource<JsonObject> CustomResources(KindDescriptor kind) => new(
        kind.Kind,
        async ct =>
        {
            var body = watchNamespace is null
                ? await client.CustomObjects.ListClusterCustomObjectAsync(kind.Group, kind.Version, kind.Plural, cancellationToken: ct).ConfigureAwait(false)
                : await client.CustomObjects.ListNamespacedCustomObjectAsync(kind.Group, kind.Version, watchNamespace, kind.Plural, cancellationToken: ct).ConfigureAwait(false);
            var list = KubernetesClusterApi.ToJsonObject(body);
            var items = list["items"]?.AsArray().OfType<JsonObject>().Select(i => Trim((JsonObject)i.DeepClone())).ToList() ?? [];
            return (items, list["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "");
        },
        (version, ct) => Adapt<object, JsonObject>(
            onError => watchNamespace is null
                ? client.CustomObjects.WatchListClusterCustomObjectAsync(kind.Group, kind.Version, kind.Plural,
                    allowWatchBookmarks: true, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct)
                : client.CustomObjects.WatchListNamespacedCustomObjectAsync(kind.Group, kind.Version, watchNamespace, kind.Plural,
                    allowWatchBookmarks: true, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct),
            o => Trim(KubernetesClusterApi.ToJsonObject(o)), o => o["metadata"]?["resourceVersion"]?.GetValue<string>()),
        o => new ObjectKey(o["metadata"]?["namespace"]?.GetValue<string>() ?? "", o["metadata"]?["name"]?.GetValue<string>() ?? ""),
        o => o["metadata"]?["resourceVersion"]?.GetValue<string>());

    public ResourceSource<V1Job> Jobs() => Typed<V1Job, V1JobList>("Job",
        ct => watchNamespace is null
            ? client.BatchV1.ListJobForAllNamespacesAsync(labelSelector: ChildSelector, cancellationToken: ct)
            : client.BatchV1.ListNamespacedJobAsync(watchNamespace, labelSelector: ChildSelector, cancellationToken: ct),
        (version, onError, ct) => watchNamespace is null
            ? client.BatchV1.WatchListJobForAllNamespacesAsync(allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct)
            : client.BatchV1.WatchListNamespacedJobAsync(watchNamespace, allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct),
        // Planners read a Job's metadata, spec.suspend and status; its pod template (containers, env, volumes) is the bulk.
        job => { if (job.Spec is { } spec) spec.Template = new V1PodTemplateSpec { Metadata = spec.Template?.Metadata }; });

    public ResourceSource<V1Service> Services() => Typed<V1Service, V1ServiceList>("Service",
        ct => watchNamespace is null
            ? client.CoreV1.ListServiceForAllNamespacesAsync(labelSelector: ChildSelector, cancellationToken: ct)
            : client.CoreV1.ListNamespacedServiceAsync(watchNamespace, labelSelector: ChildSelector, cancellationToken: ct),
        (version, onError, ct) => watchNamespace is null
            ? client.CoreV1.WatchListServiceForAllNamespacesAsync(allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct)
            : client.CoreV1.WatchListNamespacedServiceAsync(watchNamespace, allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct));

    public ResourceSource<V1ConfigMap> ConfigMaps() => Typed<V1ConfigMap, V1ConfigMapList>("ConfigMap",
        ct => watchNamespace is null
            ? client.CoreV1.ListConfigMapForAllNamespacesAsync(labelSelector: ChildSelector, cancellationToken: ct)
            : client.CoreV1.ListNamespacedConfigMapAsync(watchNamespace, labelSelector: ChildSelector, cancellationToken: ct),
        (version, onError, ct) => watchNamespace is null
            ? client.CoreV1.WatchListConfigMapForAllNamespacesAsync(allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct)
            : client.CoreV1.WatchListNamespacedConfigMapAsync(watchNamespace, allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct));

    /// <summary>Pods carry the Job template's labels, so the same selector finds the trainer pods.</summary>
    public ResourceSource<V1Pod> Pods() => Typed<V1Pod, V1PodList>("Pod",
        ct => watchNamespace is null
            ? client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: ChildSelector, cancellationToken: ct)
            : client.CoreV1.ListNamespacedPodAsync(watchNamespace, labelSelector: ChildSelector, cancellationToken: ct),
        (version, onError, ct) => watchNamespace is null
            ? client.CoreV1.WatchListPodForAllNamespacesAsync(allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct)
            : client.CoreV1.WatchListNamespacedPodAsync(watchNamespace, allowWatchBookmarks: true, labelSelector: ChildSelector, resourceVersion: version, timeoutSeconds: WatchTimeoutSeconds, onError: onError, cancellationToken: ct),
        // Planners read a pod's metadata and status (phase, conditions, container states), never its spec.
        pod => pod.Spec = null!);

    private static ResourceSource<T> Typed<T, TList>(
        string kind,
        Func<CancellationToken, Task<TList>> list,
        Func<string, Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> watch,
        Action<T>? trim = null)
        where T : class, IKubernetesObject<V1ObjectMeta>
        where TList : IKubernetesObject<V1ListMeta>, IItems<T> => new(
        kind,
        async ct =>
        {
            var result = await list(ct).ConfigureAwait(false);
            return (result.Items?.Select(t => Trim(t, trim)).ToList() ?? [], result.Metadata?.ResourceVersion ?? "");
        },
        (version, ct) => Adapt<T, T>(onError => watch(version, onError, ct), t => Trim(t, trim), t => t.Metadata?.ResourceVersion),
        t => new ObjectKey(t.Metadata.NamespaceProperty ?? "", t.Metadata.Name),
        t => t.Metadata?.ResourceVersion);

    /// <summary>
    /// What the informer caches keep of an object: what planners and the child index read. Managed fields (often
    /// the largest part of an object) go from every kind, and so does kubectl's last-applied annotation (a second
    /// copy of the spec); reconciles re-read their own resource from the server before writing it, so nothing
    /// written back comes from this trimmed copy.
    /// </summary>
    private static JsonObject Trim(JsonObject resource)
    {
        if (resource["metadata"] is JsonObject meta)
        {
            meta.Remove("managedFields");
            if (meta["annotations"] is JsonObject annotations) annotations.Remove(LastApplied);
        }
        return resource;
    }

    private const string LastApplied = "kubectl.kubernetes.io/last-applied-configuration";

    private static T Trim<T>(T item, Action<T>? trim) where T : IKubernetesObject<V1ObjectMeta>
    {
        if (item.Metadata is { } meta)
        {
            meta.ManagedFields = null;
            meta.Annotations?.Remove(LastApplied);
        }
        trim?.Invoke(item);
        return item;
    }

    /// <summary>
    /// The client's watch stream as <see cref="WatchEvent{T}"/>s; a 410 Gone (as an HTTP status or a Status
    /// event) becomes <see cref="WatchExpiredException"/>, any other error is rethrown so the informer reconnects.
    /// </summary>
    private static async IAsyncEnumerable<WatchEvent<TOut>> Adapt<TWire, TOut>(
        Func<Action<Exception>, IAsyncEnumerable<(WatchEventType, TWire)>> open, Func<TWire, TOut> convert, Func<TOut, string?> versionOf)
    {
        Exception? error = null;
        var stream = open(e => error ??= e).GetAsyncEnumerator();
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await stream.MoveNextAsync().ConfigureAwait(false);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone)
                {
                    throw new WatchExpiredException(e.Message);
                }
                if (!more || error is not null) break;
                var (type, wire) = stream.Current;
                var item = convert(wire);
                WatchEventKind? kind = type switch
                {
                    WatchEventType.Added => WatchEventKind.Added,
                    WatchEventType.Modified => WatchEventKind.Modified,
                    WatchEventType.Deleted => WatchEventKind.Deleted,
                    WatchEventType.Bookmark => WatchEventKind.Bookmark,
                    _ => null,
                };
                if (kind is { } k) yield return new WatchEvent<TOut>(k, item, versionOf(item));
            }
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        switch (error)
        {
            case null: yield break;
            case KubernetesException { Status.Code: 410 } gone: throw new WatchExpiredException(gone.Message);
            default: throw error;
        }
    }
}
