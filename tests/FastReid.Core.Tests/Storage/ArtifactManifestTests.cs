using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

[Collection(S3rverCollection.Name)]
public sealed class ArtifactManifestTests(S3rverFixture s3)
{
    public static TheoryData<string> Backends => new() { TestStorage.S3, TestStorage.Local };

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Manifest_lists_every_artefact_and_verification_catches_changes(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "manifest");
        var output = Path.Combine(t.Scratch, "output");
        Directory.CreateDirectory(Path.Combine(output, "export"));
        await File.WriteAllTextAsync(Path.Combine(output, "config.yaml"), "MODEL:\n  BACKBONE: r18\n");
        await File.WriteAllBytesAsync(Path.Combine(output, "model.pt"), TestStorage.RandomBytes(50_000, 7));
        await File.WriteAllBytesAsync(Path.Combine(output, "export", "model.onnx"), TestStorage.RandomBytes(10_000, 8));

        var manifest = await ArtifactManifest.FromDirectoryAsync(output);
        Assert.Equal(["config.yaml", "export/model.onnx", "model.pt"], manifest.Entries.Select(e => e.Path));
        Assert.Equal(50_000, manifest.Entries.Single(e => e.Path == "model.pt").Size);
        Assert.Equal(
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(output, "config.yaml")))),
            manifest.Entries.Single(e => e.Path == "config.yaml").Sha256);

        foreach (var entry in manifest.Entries)
            await t.Storage.PutFileAsync(Path.Combine(output, entry.Path), entry.Path);
        await manifest.WriteAsync(t.Storage);

        var read = await ArtifactManifest.ReadAsync(t.Storage);
        Assert.NotNull(read);
        Assert.Equal(manifest.Entries, read.Entries);
        Assert.Empty(await read.VerifyAsync(t.Storage));

        // Same size, different bytes: only the digest can tell.
        var tampered = TestStorage.RandomBytes(50_000, 99);
        await t.Storage.PutStreamAsync(new MemoryStream(tampered), "model.pt");
        await t.Storage.DeleteAsync("export/model.onnx");
        var problems = await read.VerifyAsync(t.Storage);
        Assert.Equal(["export/model.onnx", "model.pt"], problems.Select(p => p.Path));
        Assert.Contains("missing", problems[0].Problem);
        Assert.Contains("sha256", problems[1].Problem);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Publishing_an_output_uploads_its_files_and_lists_them_with_the_checkpoints(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "publish");
        var store = new CheckpointStore(t.Storage, keepLast: 2);
        await store.SaveAsync(CheckpointStoreTests.Request(t, 10));
        await store.SaveAsync(CheckpointStoreTests.Request(t, 20));
        var output = Path.Combine(t.Scratch, "output");
        Directory.CreateDirectory(output);
        await File.WriteAllTextAsync(Path.Combine(output, "config.yaml"), "SOLVER:\n  MAX_EPOCH: 2\n");
        await File.WriteAllBytesAsync(Path.Combine(output, "model.pt"), TestStorage.RandomBytes(30_000, 1));
        await File.WriteAllTextAsync(Path.Combine(output, "metrics.json"), "{\"mAP\": 0.8}");

        var checkpoints = (await store.ListAsync()).SelectMany(c => c.ArtefactEntries);
        var published = await ArtifactManifest.PublishDirectoryAsync(output, t.Storage, checkpoints);

        Assert.Equal(9, published.Entries.Count);
        Assert.Contains(published.Entries, e => e.Path == "checkpoints/model_0000020/model.pth");
        var read = await ArtifactManifest.ReadAsync(t.Storage);
        Assert.Equal(published.Entries, read!.Entries);
        Assert.Empty(await read.VerifyAsync(t.Storage));
        Assert.Equal("{\"mAP\": 0.8}", await StorageText.TryReadAsync(t.Storage, "metrics.json"));
        Assert.True(File.Exists(Path.Combine(output, "model.pt")));
    }

    [Fact]
    public async Task Publishing_a_local_output_in_place_lists_each_file_once()
    {
        using var t = await TestStorage.OpenAsync(TestStorage.Local, s3, "inplace");
        var store = new CheckpointStore(t.Storage);
        await store.SaveAsync(CheckpointStoreTests.Request(t, 10));
        var output = t.Storage.Root.LocalPath!;
        await File.WriteAllTextAsync(Path.Combine(output, "metrics.json"), "{}");

        var published = await ArtifactManifest.PublishDirectoryAsync(output, t.Storage, (await store.ListAsync()).SelectMany(c => c.ArtefactEntries));

        Assert.Equal(["checkpoints/model_0000010/checkpoint.json", "checkpoints/model_0000010/model.pth",
            "checkpoints/model_0000010/optimizer.pth", "checkpoints/model_0000010/trainer_state.json", "metrics.json"],
            published.Entries.Select(e => e.Path));
        Assert.Empty(await published.VerifyAsync(t.Storage));
    }

    [Fact]
    public async Task Malformed_manifests_fail_naming_where_they_are()
    {
        using var t = await TestStorage.OpenAsync(TestStorage.Local, s3, "badmanifest");
        await t.Storage.PutStreamAsync(new MemoryStream("{\"format\": \"fastreid.manifest/v1\", \"artefacts\": [{\"path\": \"a\", \"si"u8.ToArray()), "manifest.json");
        var error = await Assert.ThrowsAsync<FastReidException>(() => ArtifactManifest.ReadAsync(t.Storage));
        Assert.Contains(t.Storage.UriOf("manifest.json"), error.Message);
        Assert.Null(await ArtifactManifest.ReadAsync(t.Storage, "other.json"));
        Assert.Throws<FastReidException>(() => new ArtifactManifest([new ManifestEntry("../x", 1, new string('a', 64))]));
        Assert.Throws<FastReidException>(() => new ArtifactManifest([new ManifestEntry("x", 1, "abc")]));
    }
}
