using System.Net;
using System.Net.Sockets;
using Minio.Exceptions;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace FastReid.Storage;

/// <summary>
/// Which storage failures are worth retrying (5xx, 429, dropped or reset connections, timeouts), and the
/// Polly pipeline that retries them with exponential backoff and jitter.
/// </summary>
public static class TransientFaults
{
    private static readonly string[] TransientStatusNames =
    [
        nameof(HttpStatusCode.InternalServerError), nameof(HttpStatusCode.BadGateway),
        nameof(HttpStatusCode.ServiceUnavailable), nameof(HttpStatusCode.GatewayTimeout),
        nameof(HttpStatusCode.TooManyRequests), "SlowDown", "InternalError", "RequestTimeout",
    ];

    /// <summary>S3 error codes that mean "try again" (AWS documents these as retryable).</summary>
    private static readonly string[] TransientErrorCodes =
        ["InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "OperationAborted"];

    /// <summary>
    /// True for failures a retry may cure. <paramref name="callerCancelled"/> tells a timeout (transient)
    /// apart from the caller giving up (never retried).
    /// </summary>
    public static bool IsTransient(Exception error, bool callerCancelled = false)
    {
        if (callerCancelled) return false;
        for (var e = error; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case FileNotFoundException or DirectoryNotFoundException or PathTooLongException:
                    return false;
                case TimeoutRejectedException or TimeoutException or HttpRequestException or SocketException
                    or IOException or ConnectionException or System.Xml.XmlException:
                    return true;
                case OperationCanceledException:
                    return true; // the caller did not cancel, so a client-side timeout fired
                // Minio 7.0.0 throws a null error (a NullReferenceException) for bodiless error responses
                // other than 400/403/404, which in practice means a HEAD answered with 5xx or 429.
                case NullReferenceException { TargetSite.Name: "ParseWellKnownErrorNoContent" }:
                    return true;
                // An S3 error body parsed by the SDK: judge by its code (the status is not kept).
                case MinioException { Response.Code: { Length: > 0 } code }:
                    return TransientErrorCodes.Contains(code, StringComparer.OrdinalIgnoreCase);
                case MinioException m when m.ServerResponse is { } r:
                    return (int)r.StatusCode >= 500 || r.StatusCode == HttpStatusCode.TooManyRequests
                           || (int)r.StatusCode == 0;
                case MinioException m when TransientStatusNames.Any(n => m.Message.Contains(n, StringComparison.OrdinalIgnoreCase)):
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A pipeline of retries (outer) around a per-attempt timeout (inner). Each retry writes one line to
    /// <paramref name="log"/> naming the operation (see <see cref="RunAsync{T}"/>) and the failure.
    /// </summary>
    public static ResiliencePipeline CreatePipeline(RetrySettings settings, Action<string>? log)
    {
        var builder = new ResiliencePipelineBuilder();
        if (settings.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = settings.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = settings.BaseDelay,
                MaxDelay = settings.MaxDelay,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken.IsCancellationRequested)),
                OnRetry = args =>
                {
                    var what = args.Context.Properties.TryGetValue(OperationKey, out var op) ? op : "storage request";
                    log?.Invoke($"storage: {what} failed ({Summarize(args.Outcome.Exception)}); retry {args.AttemptNumber + 1} of {settings.MaxRetries} in {args.RetryDelay.TotalMilliseconds:F0} ms");
                    return default;
                },
            });
        }
        if (settings.AttemptTimeout > TimeSpan.Zero)
            builder.AddTimeout(settings.AttemptTimeout);
        return builder.Build();
    }

    internal static readonly ResiliencePropertyKey<string> OperationKey = new("fastreid.storage.operation");

    /// <summary>
    /// Runs <paramref name="action"/> through <paramref name="pipeline"/>. Transient failures that outlast
    /// the retries become a <see cref="FastReidException"/> naming the operation; other failures pass through.
    /// </summary>
    public static async Task<T> RunAsync<T>(ResiliencePipeline pipeline, string operation, int maxRetries,
        Func<CancellationToken, Task<T>> action, CancellationToken ct)
    {
        var context = ResilienceContextPool.Shared.Get(ct);
        context.Properties.Set(OperationKey, operation);
        try
        {
            // WaitAsync: an SDK call that ignores cancellation on a stalled connection is abandoned when the
            // attempt times out, instead of hanging the run forever.
            return await pipeline.ExecuteAsync(async c => await action(c.CancellationToken).WaitAsync(c.CancellationToken).ConfigureAwait(false), context)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is not FastReidException && IsTransient(e, ct.IsCancellationRequested))
        {
            throw new FastReidException(
                $"{operation} failed after {maxRetries + 1} attempt(s): {Summarize(e)}. Local files were kept.", e);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>One line about a failure: type and first line of the message, never request headers or bodies.</summary>
    public static string Summarize(Exception? error)
    {
        if (error is null) return "unknown error";
        var inner = error;
        while (inner.InnerException is not null && inner is not MinioException) inner = inner.InnerException;
        if (inner is MinioException { Response.Code: { Length: > 0 } code } withCode)
            return $"S3 error {code}: {withCode.Response.Message}";
        if (inner is MinioException { ServerResponse: { } r })
            return $"HTTP {(int)r.StatusCode} {r.StatusCode}";
        var message = inner.Message.Split('\n')[0];
        if (message.Length > 200) message = message[..200] + "...";
        return $"{inner.GetType().Name}: {message}";
    }
}
