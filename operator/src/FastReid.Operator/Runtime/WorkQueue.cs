namespace FastReid.Operator.Runtime;

/// <summary>
/// The controller work queue, with client-go's guarantees: a key is queued at most once however often it is
/// added; a key being processed is never handed to a second worker — if it is added meanwhile it is queued
/// again when <see cref="Done"/> is called; failures are retried with per-key exponential backoff.
/// Keys added with <c>priority</c> (a user's new or edited resource) are handed out before the others (the echo of
/// our own writes: a child appeared, a status changed), so under a burst of N new resources the first reconcile
/// of each, the one that creates its Job, does not wait behind the other resources' follow-ups; a queued key
/// added again with priority moves to the front lane.
/// </summary>
public sealed class WorkQueue<TKey> : IDisposable where TKey : notnull
{
    private readonly object _gate = new();
    private readonly Queue<TKey> _queue = new();
    private readonly Queue<TKey> _priority = new();
    /// <summary>Queued keys and their lane (true: priority); a key promoted to priority stays behind in <see cref="_queue"/>, skipped when met.</summary>
    private readonly Dictionary<TKey, bool> _queued = [];
    private readonly HashSet<TKey> _processing = [];
    private readonly Dictionary<TKey, bool> _dirty = [];
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
    public int Depth { get { lock (_gate) return _queued.Count; } }

    public void Add(TKey key) => Add(key, priority: false);

    public void Add(TKey key, bool priority)
    {
        lock (_gate)
        {
            if (_shutdown.IsCancellationRequested) return;
            if (_processing.Contains(key))
            {
                if (priority) _dirty[key] = true;
                else _dirty.TryAdd(key, false);
                return;
            }
            if (_queued.TryGetValue(key, out var lane))
            {
                if (priority && !lane) { _queued[key] = true; _priority.Enqueue(key); }
                return;
            }
            _queued[key] = priority;
            (priority ? _priority : _queue).Enqueue(key);
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
                if (TryDequeue(out var key))
                {
                    _processing.Add(key);
                    return key;
                }
            }
        }
    }

    private bool TryDequeue(out TKey key)
    {
        while (_priority.TryDequeue(out key!))
            if (_queued.TryGetValue(key, out var priority) && priority) { _queued.Remove(key); return true; }
        while (_queue.TryDequeue(out key!))
            if (_queued.TryGetValue(key, out var priority) && !priority) { _queued.Remove(key); return true; } // promoted ones are met in _priority
        return false;
    }

    public void Done(TKey key)
    {
        bool requeue, priority;
        lock (_gate)
        {
            _processing.Remove(key);
            requeue = _dirty.Remove(key, out priority);
        }
        if (requeue) Add(key, priority);
    }

    public void ShutDown() => _shutdown.Cancel();

    public void Dispose()
    {
        _shutdown.Cancel();
        _shutdown.Dispose();
        _available.Dispose();
    }
}
