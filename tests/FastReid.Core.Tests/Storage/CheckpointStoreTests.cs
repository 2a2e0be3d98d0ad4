using System.Text;
using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

/// <summary>Crash safety, verification and retention of checkpoints, on s3rver and on local folders.</summary>
[Collection(S3rverCollection.Name)]
public sealed class CheckpointStoreTests(S3rverFixture s3)
{
    public static TheoryData<string> Backends => new() { TestStorage.S3, TestStorage.Local };

    /// <summary>What an engine would hand over at one iteration: model and optimizer files plus trainer-state JSON.</summary>
    internal static CheckpointRequest Request(TestStorage t, long iteration, bool isBest = false, int modelBytes = 40_000)
    {
        var model = t.WriteFile($"it{iteration}/model.pth", TestStorage.RandomBytes(modelBytes, (int)iteration));
        var optimizer = TestStorage.RandomBytes(modelBytes / 2, (int)iteration + 1000);
        var state = Encoding.UTF8.GetBytes($"{{\"iteration\": {iteration}, \"rng\": [1, 2, 3]}}");
        return new CheckpointRequest((int)(iteration / 10), iteration,
        [
            CheckpointFile.FromPath("model.pth", model),
            CheckpointFile.FromStream("optimizer.pth", new MemoryStream(optimizer)),
            CheckpointFile.FromBytes("trainer_state.json", state),
        ], isBest);
    }

    internal static async Task AssertHoldsIteration(LoadedCheckpoint? loaded, long iteration, int modelBytes = 40_000)
    {
        Assert.NotNull(loaded);
        Assert.Equal(iteration, loaded.Info.Iteration);
        Assert.Equal(TestStorage.RandomBytes(modelBytes, (int)iteration), await File.ReadAllBytesAsync(loaded.Files["model.pth"]));
        Assert.Equal(TestStorage.RandomBytes(modelBytes / 2, (int)iteration + 1000), await File.ReadAllBytesAsync(loaded.Files["optimizer.pth"]));
        Assert.Contains($"\"iteration\": {iteration}", await File.ReadAllTextAsync(loaded.Files["trainer_state.json"]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Saved_checkpoints_load_back_verified_and_retention_keeps_last_n_plus_best(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "ckpt-retention");
        var store = new CheckpointStore(t.Storage, keepLast: 2, log: t.Note);
        Assert.Null(await store.LoadLatestValidAsync(Path.Combine(t.Scratch, "load")));

        await store.SaveAsync(Request(t, 10));
        await store.SaveAsync(Request(t, 20, isBest: true));
        await store.SaveAsync(Request(t, 30));
        await store.SaveAsync(Request(t, 40));
        await store.SaveAsync(Request(t, 50));

        Assert.Equal(["model_0000050", "model_0000040", "model_0000020"], (await store.ListAsync()).Select(c => c.Name));
        var keys = (await t.Storage.ListAsync("checkpoints/")).Select(o => o.Key).ToList();
        Assert.DoesNotContain(keys, k => k.Contains("model_0000010") || k.Contains("model_0000030"));
        Assert.Contains("checkpoints/model_0000050/checkpoint.json", keys);

        var latest = await store.LoadLatestValidAsync(Path.Combine(t.Scratch, "load"));
        await AssertHoldsIteration(latest, 50);
        Assert.Equal(5, latest!.Info.Epoch);
        Assert.Equal(3, latest.Info.Files.Count);
        await AssertHoldsIteration(await store.LoadBestAsync(Path.Combine(t.Scratch, "best")), 20);

        // A newer best frees the older one.
        await store.SaveAsync(Request(t, 60, isBest: true));
        Assert.Equal(["model_0000060", "model_0000050"], (await store.ListAsync()).Select(c => c.Name));

        // The engine's files were only read.
        Assert.True(File.Exists(Path.Combine(t.Scratch, "src", "it10", "model.pth")));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Incomplete_truncated_or_unreadable_checkpoints_are_skipped(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "ckpt-crash");
        var store = new CheckpointStore(t.Storage, keepLast: 10, log: t.Note);
        await store.SaveAsync(Request(t, 100));

        // Crash after the objects, before the manifest: no manifest, not a checkpoint.
        await t.Storage.PutStreamAsync(new MemoryStream(TestStorage.RandomBytes(1000, 1)), "checkpoints/model_0000400/model.pth");
        // Truncated object under a complete manifest (a backend that lost bytes).
        await store.SaveAsync(Request(t, 300));
        var full = TestStorage.RandomBytes(40_000, 300);
        await t.Storage.PutStreamAsync(new MemoryStream(full[..20_000]), "checkpoints/model_0000300/model.pth");
        // Same size, flipped byte: only the digest notices.
        await store.SaveAsync(Request(t, 250));
        var flipped = TestStorage.RandomBytes(20_000, 1250);
        flipped[123] ^= 0xFF;
        await t.Storage.PutStreamAsync(new MemoryStream(flipped), "checkpoints/model_0000250/optimizer.pth");
        // An object listed in the manifest is gone.
        await store.SaveAsync(Request(t, 200));
        await t.Storage.DeleteAsync("checkpoints/model_0000200/trainer_state.json");
        // A manifest cut short by a crash of a non-atomic writer.
        await t.Storage.PutStreamAsync(new MemoryStream("{\"format\": \"fastreid.checkpoint/v1\", \"name\": \"model_00005"u8.ToArray()),
            "checkpoints/model_0000500/checkpoint.json");

        var loaded = await store.LoadLatestValidAsync(Path.Combine(t.Scratch, "load"));
        await AssertHoldsIteration(loaded, 100);
        var log = string.Join("\n", t.Log);
        Assert.Contains("model_0000300", log);
        Assert.Contains("model_0000250", log);
        Assert.Contains("model_0000200", log);
        Assert.Contains("model_0000500", log);
        // Skipped candidates leave nothing behind in the local folder.
        Assert.Equal(["model_0000100"], Directory.GetDirectories(Path.Combine(t.Scratch, "load")).Select(Path.GetFileName));

        // Saving again (as a resumed run would) replaces the damaged checkpoint and clears what is newer.
        await store.SaveAsync(Request(t, 200));
        await AssertHoldsIteration(await store.LoadLatestValidAsync(Path.Combine(t.Scratch, "load2")), 200);
        Assert.DoesNotContain((await t.Storage.ListAsync("checkpoints/")).Select(o => o.Key),
            k => k.Contains("model_0000300") || k.Contains("model_0000400") || k.Contains("model_0000500"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Verified_checkpoints_the_caller_passes_over_are_skipped_with_its_reason(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "ckpt-skip");
        var store = new CheckpointStore(t.Storage, keepLast: 10, log: t.Note);
        await store.SaveAsync(Request(t, 10));
        await store.SaveAsync(Request(t, 20));
        await store.SaveAsync(Request(t, 30));

        var loaded = await store.LoadLatestValidAsync(Path.Combine(t.Scratch, "load"), c => c.Info.Iteration > 10 ? "another run's" : null);
        await AssertHoldsIteration(loaded, 10);
        Assert.Contains(t.Log, line => line.Contains("model_0000030") && line.EndsWith("another run's", StringComparison.Ordinal));
        Assert.Equal(["model_0000010"], Directory.GetDirectories(Path.Combine(t.Scratch, "load")).Select(Path.GetFileName));
        Assert.Null(await store.LoadLatestValidAsync(Path.Combine(t.Scratch, "none"), _ => "not this run's"));
    }

    /// <summary>
    /// A crash after any number of stored objects, or in the middle of any object's bytes: the store
    /// must then load the previous checkpoint, never a mix. A storage that dies mid-write and leaves a
    /// prefix of the bytes under the key stands for the least atomic backend there is.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_crash_at_any_point_of_a_save_never_yields_a_checkpoint_that_looks_valid(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "ckpt-anybyte");
        await new CheckpointStore(t.Storage).SaveAsync(Request(t, 1));
        // Puts of one save: the three objects, then the manifest. Cut each at its start, middle and end.
        for (var put = 0; put < 4; put++)
        {
            foreach (var fraction in new[] { 0.0, 0.5, 1.0 })
            {
                var crashing = new CrashingStorage(t.Storage, crashAtPut: put, keepFraction: fraction);
                await Assert.ThrowsAsync<SimulatedCrash>(() => new CheckpointStore(crashing).SaveAsync(Request(t, 2)));
                var store = new CheckpointStore(t.Storage, log: t.Note);
                var loaded = await store.LoadLatestValidAsync(Path.Combine(t.Scratch, $"load-{put}-{fraction}"));
                if (put == 3 && fraction == 1.0)
                {
                    await AssertHoldsIteration(loaded, 2); // the whole manifest landed: the save had completed
                }
                else
                {
                    await AssertHoldsIteration(loaded, 1);
                    // Not even the unverified listing shows the interrupted save: its manifest never landed whole.
                    Assert.Equal(["model_0000001"], (await store.ListAsync()).Select(c => c.Name));
                }
            }
        }
    }

    [Fact]
    public void Bad_requests_fail_with_clear_errors()
    {
        Assert.Contains("checkpoint.json", Assert.Throws<FastReidException>(() => CheckpointFile.FromBytes("checkpoint.json", new byte[1])).Message);
        Assert.Contains("a/b", Assert.Throws<FastReidException>(() => CheckpointFile.FromBytes("a/b", new byte[1])).Message);
        Assert.Throws<FastReidException>(() => new CheckpointStore(new LocalStorage(StorageUri.Parse("/tmp/x")), keepLast: 0));
    }

    [Fact]
    public async Task Duplicate_or_missing_files_are_refused_before_anything_is_written()
    {
        using var t = await TestStorage.OpenAsync(TestStorage.Local, s3, "ckpt-bad");
        var store = new CheckpointStore(t.Storage);
        var twice = new CheckpointRequest(0, 5, [CheckpointFile.FromBytes("a", new byte[1]), CheckpointFile.FromBytes("a", new byte[2])]);
        Assert.Contains("'a'", (await Assert.ThrowsAsync<FastReidException>(() => store.SaveAsync(twice))).Message);
        var missing = new CheckpointRequest(0, 6, [CheckpointFile.FromPath("model.pth", Path.Combine(t.Scratch, "gone.pth"))]);
        Assert.Contains("gone.pth", (await Assert.ThrowsAsync<FastReidException>(() => store.SaveAsync(missing))).Message);
        Assert.Empty(await store.ListAsync());
    }

    private sealed class SimulatedCrash : Exception;

    /// <summary>Passes calls through until the n-th put, which stores only a prefix of the bytes and then "dies".</summary>
    private sealed class CrashingStorage(IStorage inner, int crashAtPut, double keepFraction) : IStorage
    {
        private int _puts;

        public StorageUri Root => inner.Root;

        public async Task PutFileAsync(string localPath, string key, CancellationToken ct = default)
        {
            await using var file = File.OpenRead(localPath);
            await PutStreamAsync(file, key, ct);
        }

        public async Task PutStreamAsync(Stream content, string key, CancellationToken ct = default)
        {
            if (_puts++ != crashAtPut)
            {
                await inner.PutStreamAsync(content, key, ct);
                return;
            }
            using var buffer = new MemoryStream();
            await content.CopyToAsync(buffer, ct);
            var kept = buffer.ToArray()[..(int)(buffer.Length * keepFraction)];
            await inner.PutStreamAsync(new MemoryStream(kept), key, ct);
            throw new SimulatedCrash();
        }

        public Task<StorageObject> GetFileAsync(string key, string localPath, CancellationToken ct = default) => inner.GetFileAsync(key, localPath, ct);
        public Task<StorageObject?> StatAsync(string key, CancellationToken ct = default) => inner.StatAsync(key, ct);
        public Task<IReadOnlyList<StorageObject>> ListAsync(string prefix = "", CancellationToken ct = default) => inner.ListAsync(prefix, ct);
        public Task DeleteAsync(string key, CancellationToken ct = default) => inner.DeleteAsync(key, ct);
        public void Dispose() { }
    }
}
