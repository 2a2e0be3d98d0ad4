using System.Threading.Channels;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Controllers;

/// <summary>
/// The emulator's controller-manager: one background loop that receives every committed change and
/// lets the garbage collector, the namespace controller and the Job controller react, asynchronously,
/// as their real counterparts do. They write through <see cref="ApiOperations"/>, so watches see it all.
/// </summary>
internal sealed class ControllerHost : IAsyncDisposable
{
    readonly ApiOperations _ops;
    readonly Channel<StoredEvent> _events = Channel.CreateUnbounded<StoredEvent>();
    readonly CancellationTokenSource _cts = new();
    readonly GarbageCollector _gc;
    readonly NamespaceController _namespaces;
    readonly JobController? _jobs;
    IDisposable? _subscription;
    Task _loop = Task.CompletedTask;
    long _pending;

    public ControllerHost(ApiOperations ops, KubeEmulatorOptions options)
    {
        _ops = ops;
        _gc = new GarbageCollector(ops);
        _namespaces = new NamespaceController(ops);
        _jobs = options.RunJobController ? new JobController(ops) : null;
    }

    public void Start()
    {
        lock (_ops.Store.Gate)
            _subscription = _ops.Store.Subscribe(e =>
            {
                Interlocked.Increment(ref _pending);
                _events.Writer.TryWrite(e);
            });
        _loop = Task.Run(RunAsync);
    }

    async Task RunAsync()
    {
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(_cts.Token))
            {
                try
                {
                    _gc.Handle(e);
                    _namespaces.Handle(e);
                    _jobs?.Handle(e);
                }
                catch (Exception ex) when (ex is ApiException or InvalidOperationException)
                {
                    // A controller losing a race with a client retries on the next event, as a requeue would.
                    Console.Error.WriteLine($"kube-emulator: controller error on {e.Type} {e.Key}: {ex.Message}");
                }
                finally
                {
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    public async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _pending) > 0) await Task.Delay(5, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _subscription?.Dispose();
        await _cts.CancelAsync();
        await _loop;
        _cts.Dispose();
    }
}
