using System.Runtime.CompilerServices;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Hosting;
using FastReid.Operator.Runtime;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>The children a reconcile observes follow the informer's changes: adds, deletes, owner changes, relists.</summary>
public class ChildIndexTests
{
    private static readonly KindDescriptor Kind = ResourceKinds.ReidExperiment;
    private static readonly ObjectMeta OwnerU = new() { Namespace = "ns", Name = "exp-u", Uid = "U" };
    private static readonly ObjectMeta OwnerV = new() { Namespace = "ns", Name = "exp-v", Uid = "V" };

    private static V1Job Job(string name, string version, string ownerUid) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name, NamespaceProperty = "ns", ResourceVersion = version,
            OwnerReferences = [new V1OwnerReference { ApiVersion = Kind.ApiVersion, Kind = Kind.Kind, Name = "x", Uid = ownerUid, Controller = true }],
        },
    };

    private static V1Pod Pod(string name, string version, string experiment) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "ns", ResourceVersion = version, Labels = new Dictionary<string, string> { [Kind.OwnerLabel] = experiment } },
    };

    private static ResourceSource<T> Scripted<T>(Queue<IReadOnlyList<T>> lists, Queue<WatchEvent<T>[]> watches) where T : class, k8s.IKubernetesObject<V1ObjectMeta> => new(
        typeof(T).Name,
        _ => Task.FromResult((lists.Count > 1 ? lists.Dequeue() : lists.Peek(), "1")),
        (_, ct) => Play(watches.Count > 0 ? watches.Dequeue() : null, ct),
        t => new ObjectKey(t.Metadata.NamespaceProperty, t.Metadata.Name),
        t => t.Metadata.ResourceVersion);

    /// <summary>Plays the events, then ends with 410 Gone (a relist follows); with no script, waits.</summary>
    private static async IAsyncEnumerable<WatchEvent<T>> Play<T>(WatchEvent<T>[]? events, [EnumeratorCancellation] CancellationToken ct)
    {
        if (events is null) { await Task.Delay(Timeout.Infinite, ct); yield break; }
        foreach (var e in events) { await Task.Yield(); yield return e; }
        throw new WatchExpiredException("gone");
    }

    private static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), "condition not reached in 5 s");
    }

    private static string[] Jobs(ChildIndex index, ObjectMeta owner) =>
        [.. index.Observe(Kind, owner, DateTimeOffset.UnixEpoch).Of<V1Job>().Select(j => j.Metadata.Name).Order()];

    [Fact]
    public async Task Observed_jobs_follow_adds_deletes_owner_changes_and_a_relist()
    {
        var lists = new Queue<IReadOnlyList<V1Job>>([[Job("a", "1", "U"), Job("b", "1", "V")], [Job("b", "5", "V"), Job("d", "5", "U")]]);
        var watches = new Queue<WatchEvent<V1Job>[]>([[
            new(WatchEventKind.Added, Job("c", "2", "U"), "2"),
            new(WatchEventKind.Deleted, Job("a", "3", "U"), "3"),
            new(WatchEventKind.Modified, Job("b", "4", "U"), "4"), // adopted by U
        ]]);
        var informer = new Informer<V1Job>(Scripted(lists, watches), NullLogger.Instance);
        var index = new ChildIndex([ChildSource.Owned(informer)]);
        var relisted = 0;
        index.Sources[0].Changed += meta => { if (meta?.ResourceVersion == "5") Interlocked.Increment(ref relisted); };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = informer.RunAsync(cts.Token);
        // After the watch: a deleted, c added, b moved to U; after the relist: c gone, b back to V, d new.
        await Until(() => Volatile.Read(ref relisted) == 2);
        Assert.Equal(["d"], Jobs(index, OwnerU));
        Assert.Equal(["b"], Jobs(index, OwnerV));
        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Observed_pods_are_found_by_the_owner_label_and_leave_when_deleted()
    {
        var lists = new Queue<IReadOnlyList<V1Pod>>([[Pod("p0", "1", "exp-u"), Pod("p1", "1", "exp-v")], [Pod("p1", "1", "exp-v"), Pod("p2", "3", "exp-u")]]);
        var watches = new Queue<WatchEvent<V1Pod>[]>([[new(WatchEventKind.Deleted, Pod("p0", "2", "exp-u"), "2"), new(WatchEventKind.Added, Pod("p2", "3", "exp-u"), "3")]]);
        var informer = new Informer<V1Pod>(Scripted(lists, watches), NullLogger.Instance);
        var index = new ChildIndex([ChildSource.Labelled(informer)]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = informer.RunAsync(cts.Token);
        string[] Pods(ObjectMeta owner) => [.. index.Observe(Kind, owner, DateTimeOffset.UnixEpoch).Of<V1Pod>().Select(p => p.Metadata.Name).Order()];
        await Until(() => Pods(OwnerU) is ["p2"]);
        Assert.Equal(["p1"], Pods(OwnerV));
        await cts.CancelAsync();
        await run;
    }
}
