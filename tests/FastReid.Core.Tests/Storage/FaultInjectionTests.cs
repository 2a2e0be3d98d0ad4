using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

/// <summary>Storage through a proxy that fails about one request in five (HTTP 500, connections reset before or during the response).</summary>
[Collection(S3rverCollection.Name)]
public sealed class FaultInjectionTests(S3rverFixture s3)
{
    [Fact]
    public async Task Checkpoint_saves_and_loads_complete_and_verify_while_a_fifth_of_requests_fail()
    {
        await using var proxy = new FaultProxy(s3.Port, faultRate: 0.2, maxFaults: 150, seed: 4711);
        using var t = await TestStorage.OpenAsync(TestStorage.S3, s3, "faults", proxy.Endpoint);
        var store = new CheckpointStore(t.Storage, keepLast: 2, log: t.Note);

        for (var iteration = 100; iteration <= 600; iteration += 100)
        {
            // One larger model (multipart above 5 MiB) so part uploads are hit too.
            var modelBytes = iteration == 300 ? 6 * 1024 * 1024 : 200_000;
            await store.SaveAsync(CheckpointStoreTests.Request(t, iteration, isBest: iteration == 300, modelBytes: modelBytes));
            var loaded = await store.LoadLatestValidAsync(Path.Combine(t.Scratch, $"load-{iteration}"));
            await CheckpointStoreTests.AssertHoldsIteration(loaded, iteration, modelBytes);
        }

        Assert.Equal(["model_0000600", "model_0000500", "model_0000300"], (await store.ListAsync()).Select(c => c.Name));
        await CheckpointStoreTests.AssertHoldsIteration(await store.LoadBestAsync(Path.Combine(t.Scratch, "best")), 300, 6 * 1024 * 1024);

        // The run really was under fire, with every kind of fault, and the retries said so.
        Assert.True(proxy.Faults >= 20, $"only {proxy.Faults} faults injected in {proxy.Requests.Count} requests");
        Assert.True(proxy.Errors500 > 0 && proxy.DroppedBeforeResponse > 0 && proxy.DroppedMidResponse > 0,
            $"500s {proxy.Errors500}, drops before response {proxy.DroppedBeforeResponse}, drops mid-response {proxy.DroppedMidResponse}");
        Assert.Contains(t.Log, line => line.Contains("retry"));

        // Everything still there verifies against its manifest without the proxy in the way.
        using var direct = StorageFactory.Open(t.Storage.Root.ToString(), new StorageOptions { S3 = s3.Settings });
        foreach (var checkpoint in await new CheckpointStore(direct).ListAsync())
            Assert.Empty(await new ArtifactManifest(checkpoint.Files).VerifyAsync(direct, $"checkpoints/{checkpoint.Name}"));
    }

    [Fact]
    public async Task A_dataset_syncs_completely_while_a_fifth_of_requests_fail()
    {
        await using var proxy = new FaultProxy(s3.Port, faultRate: 0, maxFaults: 100, seed: 99);
        using var t = await TestStorage.OpenAsync(TestStorage.S3, s3, "faultyds", proxy.Endpoint, prefix: "ds");
        for (var i = 0; i < 30; i++)
            await t.Storage.PutStreamAsync(new MemoryStream(TestStorage.RandomBytes(5000, i)), $"train/{i:D4}_c1s1_{i:D6}_00.jpg");

        proxy.FaultRate = 0.2;
        var result = await new DatasetCache(t.Storage, Path.Combine(t.Scratch, "cache"), parallelism: 4).SyncAsync();
        Assert.Equal(30, result.Downloaded);
        for (var i = 0; i < 30; i++)
            Assert.Equal(TestStorage.RandomBytes(5000, i), await File.ReadAllBytesAsync(Path.Combine(result.LocalRoot, "train", $"{i:D4}_c1s1_{i:D6}_00.jpg")));
        Assert.True(proxy.Faults > 0);
        Assert.DoesNotContain(Directory.GetFiles(result.LocalRoot, "*", SearchOption.AllDirectories), AtomicFile.IsTemporary);
    }

    [Fact]
    public async Task When_retries_run_out_the_error_is_clear_and_local_files_stay()
    {
        await using var proxy = new FaultProxy(s3.Port, faultRate: 1.0, maxFaults: int.MaxValue);
        var retry = TestStorage.FastRetry with { MaxRetries = 2 };
        using var t = await TestStorage.OpenAsync(TestStorage.S3, s3, "exhausted", proxy.Endpoint, retry);
        var model = t.WriteFile("model.pth", TestStorage.RandomBytes(10_000, 5));

        var error = await Assert.ThrowsAsync<FastReidException>(() => t.Storage.PutFileAsync(model, "model.pth"));
        Assert.Contains(t.Storage.UriOf("model.pth"), error.Message);
        Assert.Contains("after 3 attempt(s)", error.Message);
        Assert.Contains("Local files were kept", error.Message);
        Assert.DoesNotContain(S3rverFixture.SecretKey + "\"", error.ToString());
        Assert.True(File.Exists(model));
        Assert.Equal(3, proxy.Requests.Count);
        Assert.Equal(2, t.Log.Count(l => l.Contains("retry")));

        var save = await Assert.ThrowsAsync<FastReidException>(() =>
            new CheckpointStore(t.Storage).SaveAsync(CheckpointStoreTests.Request(t, 7)));
        Assert.Contains("failed after 3 attempt(s)", save.Message);
        Assert.True(File.Exists(Path.Combine(t.Scratch, "src", "it7", "model.pth")));

        // The proxy recovers: the same storage object works again.
        proxy.FaultRate = 0;
        await t.Storage.PutFileAsync(model, "model.pth");
        Assert.Equal(10_000, (await t.Storage.StatAsync("model.pth"))!.Size);
    }
}
