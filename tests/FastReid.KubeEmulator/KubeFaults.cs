namespace FastReid.KubeEmulator;

/// <summary>
/// Fault hooks for tests: the failures a controller must survive against a real apiserver (dropped
/// watches, expired resume points, transient 5xx and throttling), injected on demand. Thread-safe.
/// </summary>
public sealed class KubeFaults
{
    readonly Lock _gate = new();
    CancellationTokenSource _watchDrop = new();
    int _expireWatches;
    int _failCount;
    int _failCode;
    Func<string, string, bool>? _failWhen;

    /// <summary>Cuts every open watch connection, as a load balancer or apiserver restart would.</summary>
    public void DropWatches()
    {
        CancellationTokenSource old;
        lock (_gate)
        {
            old = _watchDrop;
            _watchDrop = new CancellationTokenSource();
        }
        old.Cancel();
        old.Dispose();
    }

    /// <summary>Answers the next <paramref name="count"/> watch requests with an ERROR event carrying 410 Expired.</summary>
    public void ExpireNextWatch(int count = 1)
    {
        lock (_gate) _expireWatches += count;
    }

    /// <summary>
    /// Fails the next <paramref name="count"/> requests (only those <paramref name="when"/>(method, path) selects,
    /// if given) with 500 InternalError or 429 TooManyRequests (with Retry-After: 1).
    /// </summary>
    public void FailNextRequests(int count, int statusCode = 500, Func<string, string, bool>? when = null)
    {
        if (statusCode is not (500 or 429 or 503 or 504)) throw new ArgumentOutOfRangeException(nameof(statusCode), "use 500, 503, 504 or 429");
        lock (_gate)
        {
            _failCount = count;
            _failCode = statusCode;
            _failWhen = when;
        }
    }

    /// <summary>Clears pending request failures and watch expiries.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _failCount = 0;
            _expireWatches = 0;
            _failWhen = null;
        }
    }

    internal CancellationToken WatchDropToken
    {
        get { lock (_gate) return _watchDrop.Token; }
    }

    internal bool TakeWatchExpiry()
    {
        lock (_gate)
        {
            if (_expireWatches == 0) return false;
            _expireWatches--;
            return true;
        }
    }

    internal ApiException? TakeFailure(string method, string path)
    {
        lock (_gate)
        {
            if (_failCount == 0 || (_failWhen is not null && !_failWhen(method, path))) return null;
            _failCount--;
            return _failCode switch
            {
                429 => new ApiException(429, "TooManyRequests", "the server has received too many requests and has asked us to try again later (injected fault)",
                    new System.Text.Json.Nodes.JsonObject { ["retryAfterSeconds"] = 1 }),
                503 => new ApiException(503, "ServiceUnavailable", "the server is currently unable to handle the request (injected fault)"),
                504 => new ApiException(504, "Timeout", "the server was unable to return a response in the time allotted (injected fault)"),
                _ => new ApiException(500, "InternalError", "Internal error occurred: injected fault"),
            };
        }
    }
}
