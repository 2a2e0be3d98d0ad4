using k8s;

namespace FastReid.KubeEmulator.Tests;

/// <summary>
/// One in-process emulator per test class, with a kubeconfig in a private temp folder for kubectl and
/// a KubernetesClient. Tests isolate themselves by namespace, so a class's tests can share a server.
/// </summary>
public sealed class EmulatorFixture : IAsyncLifetime
{
    public KubeEmulatorServer Server { get; private set; } = null!;
    public Kubernetes Client { get; private set; } = null!;
    public Kubectl Kubectl { get; private set; } = null!;
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("kube-emulator-test-").FullName;

    public async Task InitializeAsync()
    {
        Server = await KubeEmulatorServer.StartAsync(new KubeEmulatorOptions { BookmarkInterval = TimeSpan.FromMilliseconds(300) });
        var kubeconfig = Server.WriteKubeconfig(Path.Combine(Directory, "kubeconfig"));
        Kubectl = new Kubectl(kubeconfig, Path.Combine(Directory, "cache"));
        Client = new Kubernetes(Server.ClientConfiguration);
    }

    /// <summary>Creates a fresh namespace for one test.</summary>
    public string Namespace(string prefix)
    {
        var name = $"{prefix}-{Guid.NewGuid().ToString("N")[..6]}";
        Client.CoreV1.CreateNamespace(new k8s.Models.V1Namespace { Metadata = new() { Name = name } });
        return name;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException) { }
    }
}

public static class Eventually
{
    /// <summary>Polls until <paramref name="condition"/> holds: controllers in the emulator act asynchronously, as real ones do.</summary>
    public static async Task True(Func<Task<bool>> condition, string what, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    public static Task True(Func<bool> condition, string what, int timeoutMs = 10_000) => True(() => Task.FromResult(condition()), what, timeoutMs);
}
