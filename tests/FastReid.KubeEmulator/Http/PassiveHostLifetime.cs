using Microsoft.Extensions.Hosting;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// Replaces ConsoleLifetime so an emulator hosted inside a test process never takes over that process's
/// SIGINT/SIGTERM; the standalone Program handles signals itself.
/// </summary>
internal sealed class PassiveHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
