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
    // A null item is a clock tick: time-based rules (Job deadlines, TTL after finished) are checked on it.
    readonly Channel<StoredEvent?> _events = Channel.CreateUnbounded<StoredEvent?>();
    Timer? _clock;
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
        _clock = new Timer(_ =>
        {
            Interlocked.Increment(ref _pending);
            if (!_events.Writer.TryWrite(null)) Interlocked.Decrement(ref _pending);
        }, null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
    }

    async Task RunAsync()
    {
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(_cts.Token))
            {
                try
                {
                    if (e is null) _jobs?.Tick();
                    else
                    {
                        _gc.Handle(e);
                        _namespaces.Handle(e);
                        _jobs?.Handle(e);
                    }
                }
                catch (Exception ex) when (ex is ApiException or InvalidOperationException)
                {
                    // A controller losing a race with a client retries on the next event, as a requeue would.
                    Console.Error.WriteLine($"kube-emulator: controller error on {e?.Type ?? "tick"} {e?.Key}: {ex.Message}");
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
        if (_clock is not null) await _clock.DisposeAsync();
        await _cts.CancelAsync();
        await _loop;
        _cts.Dispose();
    }
}
