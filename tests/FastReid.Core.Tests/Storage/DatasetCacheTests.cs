using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

[Collection(S3rverCollection.Name)]
public sealed class DatasetCacheTests(S3rverFixture s3)
{
    private static readonly string[] Files =
    [
        "bounding_box_train/0001_c1s1_000001_00.jpg", "bounding_box_train/0001_c2s1_000002_00.jpg",
        "bounding_box_train/0002_c1s1_000003_00.jpg", "query/0001_c3s1_000004_00.jpg",
        "bounding_box_test/0001_c4s1_000005_00.jpg", "bounding_box_test/-1_c1s1_000006_00.jpg",
    ];

    [Fact]
    public async Task Dataset_is_fetched_once_and_a_changed_object_invalidates_only_itself()
    {
        await using var proxy = new FaultProxy(s3.Port, faultRate: 0, maxFaults: 0);
        using var t = await TestStorage.OpenAsync(TestStorage.S3, s3, "dataset", proxy.Endpoint, prefix: "datasets/market1501");
        for (var i = 0; i < Files.Length; i++)
            await t.Storage.PutStreamAsync(new MemoryStream(TestStorage.RandomBytes(2000 + i, i)), Files[i]);
        var cacheDir = Path.Combine(t.Scratch, "cache");

        var first = await new DatasetCache(t.Storage, cacheDir).SyncAsync();
        Assert.Equal((Files.Length, 0, 0), (first.Downloaded, first.Reused, first.Removed));
        for (var i = 0; i < Files.Length; i++)
            Assert.Equal(TestStorage.RandomBytes(2000 + i, i), await File.ReadAllBytesAsync(Path.Combine(first.LocalRoot, Files[i])));

        // A later run with unchanged objects lists the bucket and downloads nothing.
        proxy.ClearRequests();
        var second = await new DatasetCache(t.Storage, cacheDir).SyncAsync();
        Assert.Equal((0, Files.Length, 0), (second.Downloaded, second.Reused, second.Removed));
        Assert.DoesNotContain(proxy.Requests, r => r.StartsWith("GET ") && r.Contains(".jpg"));

        // One object changes, one disappears: only the changed one is fetched, the gone one removed.
        await t.Storage.PutStreamAsync(new MemoryStream("changed"u8.ToArray()), Files[1]);
        await t.Storage.DeleteAsync(Files[5]);
        proxy.ClearRequests();
        var third = await new DatasetCache(t.Storage, cacheDir).SyncAsync();
        Assert.Equal((1, Files.Length - 2, 1), (third.Downloaded, third.Reused, third.Removed));
        Assert.Equal("changed", await File.ReadAllTextAsync(Path.Combine(third.LocalRoot, Files[1])));
        Assert.False(File.Exists(Path.Combine(third.LocalRoot, Files[5])));
        Assert.Single(proxy.Requests, r => r.StartsWith("GET ") && r.Contains(".jpg"));

        // A local copy damaged by someone (size no longer matches) is fetched again.
        await File.WriteAllTextAsync(Path.Combine(third.LocalRoot, Files[0]), "x");
        var fourth = await new DatasetCache(t.Storage, cacheDir).SyncAsync();
        Assert.Equal(1, fourth.Downloaded);
        Assert.Equal(TestStorage.RandomBytes(2000, 0), await File.ReadAllBytesAsync(Path.Combine(fourth.LocalRoot, Files[0])));
    }

    [Fact]
    public async Task A_local_source_syncs_the_same_way()
    {
        using var t = await TestStorage.OpenAsync(TestStorage.Local, s3, "localds");
        foreach (var file in Files)
            await t.Storage.PutStreamAsync(new MemoryStream(TestStorage.RandomBytes(100, file.Length)), file);
        var cache = new DatasetCache(t.Storage, Path.Combine(t.Scratch, "cache"));
        Assert.Equal(Files.Length, (await cache.SyncAsync()).Downloaded);
        Assert.Equal(0, (await cache.SyncAsync()).Downloaded);
        await Task.Delay(20); // not a synchronisation: local ETags include the modification time, which must move
        await t.Storage.PutStreamAsync(new MemoryStream("new"u8.ToArray()), Files[2]);
        var after = await cache.SyncAsync();
        Assert.Equal((1, Files.Length - 1), (after.Downloaded, after.Reused));
        Assert.Equal("new", await File.ReadAllTextAsync(Path.Combine(after.LocalRoot, Files[2])));
    }

    [Fact]
    public async Task Resolve_passes_local_datasets_through_and_caches_s3_ones()
    {
        using var t = await TestStorage.OpenAsync(TestStorage.S3, s3, "resolve", prefix: "ds");
        await t.Storage.PutStreamAsync(new MemoryStream([1, 2]), "query/a.jpg");
        var cacheRoot = Path.Combine(t.Scratch, "cache");

        var local = await DatasetCache.ResolveAsync(t.Storage.Root.ToString(), cacheRoot, t.Options);
        Assert.StartsWith(cacheRoot, local);
        Assert.Equal([1, 2], await File.ReadAllBytesAsync(Path.Combine(local, "query", "a.jpg")));
        Assert.Equal(t.Scratch, await DatasetCache.ResolveAsync(t.Scratch, cacheRoot));

        var missing = await Assert.ThrowsAsync<FastReidException>(() => DatasetCache.ResolveAsync(Path.Combine(t.Scratch, "none"), cacheRoot));
        Assert.Contains("none", missing.Message);
        var empty = await Assert.ThrowsAsync<FastReidException>(() =>
            DatasetCache.ResolveAsync($"{t.Storage.Root}-empty", cacheRoot, t.Options));
        Assert.Contains($"{t.Storage.Root}-empty", empty.Message);
    }
}
