using System.Runtime.ExceptionServices;

namespace FastReid.Data;

/// <summary>
/// <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/> that surfaces a worker's user-facing
/// error (a corrupt image, say) as itself rather than wrapped in an AggregateException, so callers and
/// the CLI report it like any other bad input.
/// </summary>
public static class ParallelWork
{
    public static void For(int count, ParallelOptions options, Action<int> body)
    {
        try
        {
            Parallel.For(0, count, options, body);
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.OfType<FastReidException>().FirstOrDefault() is { } user)
        {
            ExceptionDispatchInfo.Capture(user).Throw();
        }
    }
}
