using System.Security.Cryptography;
using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

/// <summary>The same behaviours on a real S3 server (s3rver) and on local folders.</summary>
[Collection(S3rverCollection.Name)]
public sealed class StorageBackendTests(S3rverFixture s3)
{
    public static TheoryData<string> Backends => new() { TestStorage.S3, TestStorage.Local };

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Put_get_stat_list_delete_round_trip(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "roundtrip");
        var content = TestStorage.RandomBytes(300_000, 1);
        var source = t.WriteFile("a.bin", content);

        await t.Storage.PutFileAsync(source, "data/a.bin");
        await t.Storage.PutStreamAsync(new MemoryStream([1, 2, 3]), "data/b/c.txt");
        await t.Storage.PutStreamAsync(new MemoryStream([4]), "database.txt");
        await t.Storage.PutStreamAsync(new MemoryStream([5]), "other/x");

        var stat = await t.Storage.StatAsync("data/a.bin");
        Assert.NotNull(stat);
        Assert.Equal(300_000, stat.Size);
        Assert.False(string.IsNullOrEmpty(stat.ETag));
        Assert.True(await t.Storage.ExistsAsync("data/b/c.txt"));
        Assert.False(await t.Storage.ExistsAsync("data/nothing"));
        Assert.Null(await t.Storage.StatAsync("data/nothing"));

        // Plain string prefixes, as S3 has them: "data" also matches "database.txt".
        Assert.Equal(["data/a.bin", "data/b/c.txt", "database.txt"], (await t.Storage.ListAsync("data")).Select(o => o.Key));
        Assert.Equal(["data/a.bin", "data/b/c.txt"], (await t.Storage.ListAsync("data/")).Select(o => o.Key));
        Assert.Equal(4, (await t.Storage.ListAsync()).Count);
        Assert.Empty(await t.Storage.ListAsync("zzz"));

        var target = Path.Combine(t.Scratch, "down", "a.bin");
        var got = await t.Storage.GetFileAsync("data/a.bin", target);
        Assert.Equal(content, await File.ReadAllBytesAsync(target));
        Assert.Equal(stat.ETag, got.ETag);
        Assert.DoesNotContain(Directory.GetFiles(Path.GetDirectoryName(target)!), AtomicFile.IsTemporary);

        await t.Storage.DeleteAsync("data/a.bin");
        await t.Storage.DeleteAsync("data/a.bin"); // deleting a missing object is fine
        Assert.False(await t.Storage.ExistsAsync("data/a.bin"));
        Assert.Equal(["data/b/c.txt"], (await t.Storage.ListAsync("data/")).Select(o => o.Key));
        Assert.True(File.Exists(source), "the caller's file must never be touched");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Overwriting_changes_the_etag_and_content(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "overwrite");
        await t.Storage.PutStreamAsync(new MemoryStream("first"u8.ToArray()), "k");
        var first = (await t.Storage.StatAsync("k"))!;
        await Task.Delay(20); // local ETags include the modification time
        await t.Storage.PutStreamAsync(new MemoryStream("second!"u8.ToArray()), "k");
        var second = (await t.Storage.StatAsync("k"))!;
        Assert.NotEqual(first.ETag, second.ETag);
        var target = Path.Combine(t.Scratch, "k");
        await t.Storage.GetFileAsync("k", target);
        Assert.Equal("second!", await File.ReadAllTextAsync(target));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Non_seekable_streams_are_stored_whole(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "nonseek");
        var content = TestStorage.RandomBytes(70_000, 2);
        await t.Storage.PutStreamAsync(new ForwardOnlyStream(content), "stream.bin");
        var target = Path.Combine(t.Scratch, "stream.bin");
        await t.Storage.GetFileAsync("stream.bin", target);
        Assert.Equal(content, await File.ReadAllBytesAsync(target));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Missing_objects_fail_naming_the_uri_and_leave_the_target_alone(string backend)
    {
        using var t = await TestStorage.OpenAsync(backend, s3, "missing");
        var target = t.WriteFile("keep.bin", [9, 9, 9]);
        var error = await Assert.ThrowsAsync<FastReidException>(() => t.Storage.GetFileAsync("no/such.pth", target));
        Assert.Contains(t.Storage.UriOf("no/such.pth"), error.Message);
        Assert.Equal([9, 9, 9], await File.ReadAllBytesAsync(target));
        Assert.DoesNotContain(Directory.GetFiles(Path.GetDirectoryName(target)!), AtomicFile.IsTemporary);

        var upload = await Assert.ThrowsAsync<FastReidException>(() => t.Storage.PutFileAsync(Path.Combine(t.Scratch, "absent"), "x"));
        Assert.Contains("absent", upload.Message);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Large_files_round_trip_intact(string backend)
    {
        var endpoint = backend == TestStorage.S3 ? new FaultProxy(s3.Port, faultRate: 0, maxFaults: 0) : null;
        try
        {
            using var t = await TestStorage.OpenAsync(backend, s3, "large", endpoint?.Endpoint);
            var content = TestStorage.RandomBytes(20 * 1024 * 1024 + 123, 3);
            var source = t.WriteFile("large.bin", content);
            await t.Storage.PutFileAsync(source, "big/large.bin");
            Assert.Equal(content.Length, (await t.Storage.StatAsync("big/large.bin"))!.Size);
            var target = Path.Combine(t.Scratch, "down", "large.bin");
            await t.Storage.GetFileAsync("big/large.bin", target);
            Assert.Equal(SHA256.HashData(content), SHA256.HashData(await File.ReadAllBytesAsync(target)));

            if (endpoint is not null)
            {
                // Above 5 MiB the SDK uploads in parts: initiate, two 16 MiB-sized parts, complete.
                var requests = endpoint.Requests;
                Assert.Contains(requests, r => r.StartsWith("POST ") && r.Contains("?uploads"));
                Assert.Equal(2, requests.Count(r => r.StartsWith("PUT ") && r.Contains("partNumber=")));
                Assert.Contains(requests, r => r.StartsWith("POST ") && r.Contains("uploadId="));
            }
        }
        finally
        {
            if (endpoint is not null) await endpoint.DisposeAsync();
        }
    }

    [Fact]
    public async Task Missing_bucket_and_wrong_credentials_fail_clearly_without_the_secret()
    {
        var retry = TestStorage.FastRetry with { MaxRetries = 1 };
        using (var storage = StorageFactory.Open("s3://no-such-bucket-here/out", new StorageOptions { S3 = s3.Settings, Retry = retry }))
        {
            var error = await Assert.ThrowsAsync<FastReidException>(() => storage.PutStreamAsync(new MemoryStream([1]), "x"));
            Assert.Contains("no-such-bucket-here", error.Message);
        }

        var bucket = await s3.CreateBucketAsync("creds");
        // s3rver checks the access key (V4 signatures it does not verify), so an unknown key stands for bad credentials.
        var wrong = new S3Settings("UNKNOWNKEY", "wrong-secret-4711", s3.Endpoint);
        using (var storage = StorageFactory.Open($"s3://{bucket}/out", new StorageOptions { S3 = wrong, Retry = retry }))
        {
            var error = await Assert.ThrowsAsync<FastReidException>(() => storage.PutStreamAsync(new MemoryStream([1]), "x"));
            Assert.Contains($"s3://{bucket}/out/x", error.Message);
            Assert.Contains("access denied", error.Message);
            Assert.DoesNotContain("wrong-secret-4711", error.ToString());
        }
    }

    [Fact]
    public async Task Fetching_a_single_object_downloads_it_and_local_paths_pass_through()
    {
        using var t = await TestStorage.OpenAsync(TestStorage.S3, s3, "fetch", prefix: "models");
        await t.Storage.PutStreamAsync(new MemoryStream("weights"u8.ToArray()), "r18.pth");
        var local = await StorageFactory.FetchFileAsync(t.Storage.UriOf("r18.pth"), Path.Combine(t.Scratch, "dl"), t.Options);
        Assert.Equal("weights", await File.ReadAllTextAsync(local));
        Assert.Equal(local, await StorageFactory.FetchFileAsync(local, "/nowhere"));
        var error = await Assert.ThrowsAsync<FastReidException>(() => StorageFactory.FetchFileAsync(Path.Combine(t.Scratch, "nope.pth"), t.Scratch));
        Assert.Contains("nope.pth", error.Message);
    }

    /// <summary>A stream that can only be read forwards, like a network or pipe stream.</summary>
    private sealed class ForwardOnlyStream(byte[] content) : Stream
    {
        private readonly MemoryStream _inner = new(content);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 1000));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
