using System.Net;
using System.Net.Sockets;
using FastReid.Storage;
using Minio.DataModel.Result;
using Minio.Exceptions;
using Polly.Timeout;

namespace FastReid.Core.Tests.Storage;

public sealed class TransientFaultsTests
{
    private static MinioException WithStatus(HttpStatusCode status) =>
        new("error", new ResponseResult(new HttpRequestMessage(HttpMethod.Get, "http://s3/b/k"), new HttpResponseMessage(status)));

    public static TheoryData<Exception, bool> Cases => new()
    {
        { new HttpRequestException("connection reset"), true },
        { new IOException("The response ended prematurely"), true },
        { new SocketException((int)SocketError.ConnectionReset), true },
        { new TimeoutRejectedException(), true },
        { new TaskCanceledException("HttpClient timeout"), true },
        { WithStatus(HttpStatusCode.InternalServerError), true },
        { WithStatus(HttpStatusCode.ServiceUnavailable), true },
        { WithStatus(HttpStatusCode.TooManyRequests), true },
        { WithStatus(HttpStatusCode.NotFound), false },
        { WithStatus(HttpStatusCode.Forbidden), false },
        { new ObjectNotFoundException("k"), false },
        { new BucketNotFoundException("b"), false },
        { new FileNotFoundException("gone"), false },
        { new ArgumentException("bad"), false },
        { new FastReidException("bad config"), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Classifies_failures(Exception error, bool transient) =>
        Assert.Equal(transient, TransientFaults.IsTransient(error));

    [Fact]
    public void A_cancelled_caller_is_never_retried() =>
        Assert.False(TransientFaults.IsTransient(new OperationCanceledException(), callerCancelled: true));

    private static readonly RetrySettings Quick = new() { MaxRetries = 3, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };

    [Fact]
    public async Task Transient_failures_are_retried_until_success_with_a_note_each()
    {
        var notes = new List<string>();
        var pipeline = TransientFaults.CreatePipeline(Quick, notes.Add);
        var calls = 0;
        var result = await TransientFaults.RunAsync(pipeline, "upload of x", Quick.MaxRetries, _ =>
        {
            if (++calls < 3) throw new HttpRequestException("connection reset by peer");
            return Task.FromResult(42);
        }, CancellationToken.None);
        Assert.Equal((42, 3), (result, calls));
        Assert.Equal(2, notes.Count);
        Assert.All(notes, n => Assert.Contains("upload of x failed (HttpRequestException: connection reset by peer)", n));
    }

    [Fact]
    public async Task Exhausted_retries_become_one_clear_error_and_permanent_failures_are_not_retried()
    {
        var pipeline = TransientFaults.CreatePipeline(Quick, null);
        var calls = 0;
        var error = await Assert.ThrowsAsync<FastReidException>(() => TransientFaults.RunAsync<int>(pipeline, "download of s3://b/k", Quick.MaxRetries,
            _ => { calls++; throw new IOException("reset"); }, CancellationToken.None));
        Assert.Equal(4, calls);
        Assert.Contains("download of s3://b/k failed after 4 attempt(s): IOException: reset", error.Message);

        calls = 0;
        await Assert.ThrowsAsync<ArgumentException>(() => TransientFaults.RunAsync<int>(pipeline, "op", Quick.MaxRetries,
            _ => { calls++; throw new ArgumentException("bad"); }, CancellationToken.None));
        Assert.Equal(1, calls);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TransientFaults.RunAsync(pipeline, "op", Quick.MaxRetries,
            c => Task.FromResult(c.IsCancellationRequested ? throw new OperationCanceledException(c) : 1), cancelled.Token));
    }

    [Fact]
    public async Task A_hung_attempt_times_out_and_is_retried()
    {
        var settings = Quick with { AttemptTimeout = TimeSpan.FromMilliseconds(200) };
        var pipeline = TransientFaults.CreatePipeline(settings, null);
        var calls = 0;
        var result = await TransientFaults.RunAsync(pipeline, "op", settings.MaxRetries, async c =>
        {
            if (++calls == 1) await Task.Delay(Timeout.Infinite, c);
            return "done";
        }, CancellationToken.None);
        Assert.Equal(("done", 2), (result, calls));
    }
}
