using FastReid.Distributed;

namespace FastReid.Core.Tests.Distributed;

/// <summary>
/// What the nccl backend does where it cannot run: every machine our tests run on (no GPU, a CPU libtorch, no
/// libnccl). Its GPU path is checked by bench/gpu/nccl-check.sh on a GPU machine, never by a test.
/// </summary>
public sealed class DistributedNcclCollectivesTests
{
    [Fact]
    public void AProcessWithoutNcclGetsAnUnsupportedSettingNamingTheLibraryAndTheTcpAlternative()
    {
        const string missing = "/nonexistent/fastreid-test/libnccl.so.2";
        Func<string, string?> env = name => name == NcclLibrary.LibraryVariable ? missing : null;

        // an unsupported setting exits with 4, which the Job does not retry: a retry could not find NCCL either
        var e = Assert.Throws<UnsupportedSettingException>(() => Collectives.FromEnvironment("nccl", getEnv: env));

        Assert.Contains("backend 'nccl' cannot run", e.Message);
        Assert.Contains($"NCCL ({missing}) cannot be loaded", e.Message);
        Assert.Contains(NcclLibrary.LibraryVariable, e.Message);
        Assert.Contains("'tcp'", e.Message);
        if (!TorchSharp.torch.cuda.is_available()) Assert.Contains("CUDA is not available", e.Message); // both reasons, not the first only
    }

    [Fact]
    public void TheCheckRunsBeforeAnyRendezvous()
    {
        // WORLD_SIZE 2 with a master nobody serves: an attempt to meet it would wait out the rendezvous timeout
        var vars = new Dictionary<string, string>
        {
            ["WORLD_SIZE"] = "2", ["RANK"] = "1", ["MASTER_ADDR"] = "127.0.0.1", ["MASTER_PORT"] = RingHarness.FreePort().ToString(),
            [CollectiveOptions.TimeoutVariable] = "30", [NcclLibrary.LibraryVariable] = "/nonexistent/libnccl.so.2",
        };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.Throws<UnsupportedSettingException>(() => Collectives.FromEnvironment("nccl", getEnv: n => vars.GetValueOrDefault(n)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }
}
