namespace FastReid.Operator.Runtime;

/// <summary>
/// The controller work queue, with client-go's guarantees: a key is queued at most once however often it is
/// added; a key being processed is never handed to a second worker — if it is added meanwhile it is queued
/// again when <see cref="Done"/> is called; failures are retried with per-key exponential backoff.
/// </summary>
public sealed class WorkQueue<TKey> : IDisposable where TKey : notnull
{
    private readonly object _gate = new();
    private readonly Queue<TKey> _queue = new();
    private readonly HashSet<TKey> _queued = [];
    private readonly HashSet<TKey> _processing = [];
    private readonly HashSet<TKey> _dirty = [];
    private readonly Dictionary<TKey, int> _failures = [];
    private readonly SemaphoreSlim _available = new(0);
    private readonly TimeSpan _baseDelay;
    private readonly TimeSpan _maxDelay;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _shutdown = new();

    public WorkQueue(TimeSpan? baseDelay = null, TimeSpan? maxDelay = null, TimeProvider? time = null)
    {
        _baseDelay = baseDelay ?? TimeSpan.FromMilliseconds(100);
        _maxDelay = maxDelay ?? TimeSpan.FromMinutes(5);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Keys waiting (not counting those being processed).</summary>
    public int Depth { get { lock (_gate) return _queue.Count; } }

    public void Add(TKey key)
    {
        lock (_gate)
        {
            if (_shutdown.IsCancellationRequested) return;
            if (_processing.Contains(key)) { _dirty.Add(key); return; }
            if (!_queued.Add(key)) return;
            _queue.Enqueue(key);
        }
        _available.Release();
    }

    /// <summary>Adds the key once <paramref name="delay"/> has passed.</summary>
    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero) { Add(key); return; }
        _ = DelayThenAdd(key, delay);
    }

    private async Task DelayThenAdd(TKey key, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, _shutdown.Token).ConfigureAwait(false);
            Add(key);
        }
        catch (OperationCanceledException)
        {
            // shut down
        }
    }

    /// <summary>Re-adds a key that failed, after base·2^failures (capped).</summary>
    public TimeSpan AddRateLimited(TKey key)
    {
        TimeSpan delay;
        lock (_gate)
        {
            int failures = _failures.GetValueOrDefault(key);
            _failures[key] = failures + 1;
            delay = TimeSpan.FromMilliseconds(Math.Min(_maxDelay.TotalMilliseconds, _baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 30))));
        }
        AddAfter(key, delay);
        return delay;
    }

    /// <summary>Clears the failure count of a key that reconciled.</summary>
    public void Forget(TKey key) { lock (_gate) _failures.Remove(key); }

    public int Failures(TKey key) { lock (_gate) return _failures.GetValueOrDefault(key); }

    /// <summary>Waits for a key and marks it in progress; the caller must call <see cref="Done"/>.</summary>
    public async Task<TKey> TakeAsync(CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _shutdown.Token);
        while (true)
        {
            await _available.WaitAsync(linked.Token).ConfigureAwait(false);
            lock (_gate)
            {
                if (_queue.Count == 0) continue;
                var key = _queue.Dequeue();
                _queued.Remove(key);
                _processing.Add(key);
                return key;
            }
        }
    }

    public void Done(TKey key)
    {
        bool requeue;
        lock (_gate)
        {
            _processing.Remove(key);
            requeue = _dirty.Remove(key);
        }
        if (requeue) Add(key);
    }

    public void ShutDown() => _shutdown.Cancel();

    public void Dispose()
    {
        _shutdown.Cancel();
        _shutdown.Dispose();
        _available.Dispose();
    }
}
