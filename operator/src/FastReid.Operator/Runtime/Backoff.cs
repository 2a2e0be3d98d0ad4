namespace FastReid.Operator.Runtime;

/// <summary>Capped exponential backoff with full jitter: attempt n waits a random time in [base·2ⁿ/2, base·2ⁿ], at most <c>max</c>.</summary>
public sealed class Backoff(TimeSpan initial, TimeSpan max, Func<double>? random = null)
{
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;
    private int _attempt;

    public int Attempt => _attempt;

    public TimeSpan Next()
    {
        var ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(_attempt, 30)));
        _attempt++;
        return TimeSpan.FromMilliseconds(ceiling / 2 + _random() * ceiling / 2);
    }

    public void Reset() => _attempt = 0;
}
