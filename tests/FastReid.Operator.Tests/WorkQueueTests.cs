using FastReid.Operator.Runtime;

namespace FastReid.Operator.Tests;

public class WorkQueueTests
{
    private static readonly ObjectKey A = new("ns", "a");
    private static readonly ObjectKey B = new("ns", "b");

    private static async Task<ObjectKey> Take(WorkQueue<ObjectKey> queue) =>
        await queue.TakeAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);

    [Fact]
    public async Task A_key_added_many_times_is_queued_once()
    {
        using var queue = new WorkQueue<ObjectKey>();
        queue.Add(A); queue.Add(A); queue.Add(B); queue.Add(A);
        Assert.Equal(2, queue.Depth);
        Assert.Equal(A, await Take(queue));
        Assert.Equal(B, await Take(queue));
        Assert.Equal(0, queue.Depth);
    }

    [Fact]
    public async Task A_priority_key_is_handed_out_before_keys_queued_earlier_and_once()
    {
        using var queue = new WorkQueue<ObjectKey>();
        var c = new ObjectKey("ns", "c");
        queue.Add(A); queue.Add(B);
        queue.Add(c, priority: true);
        queue.Add(B, priority: true); // already queued: moves to the front lane, still queued once
        Assert.Equal(3, queue.Depth);
        Assert.Equal(c, await Take(queue));
        Assert.Equal(B, await Take(queue));
        Assert.Equal(A, await Take(queue));
        Assert.Equal(0, queue.Depth);
        var none = queue.TakeAsync(new CancellationTokenSource(TimeSpan.FromMilliseconds(200)).Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => none);
    }

    [Fact]
    public async Task A_priority_add_while_in_progress_requeues_it_in_the_front_lane()
    {
        using var queue = new WorkQueue<ObjectKey>();
        queue.Add(A);
        Assert.Equal(A, await Take(queue));
        queue.Add(B);
        queue.Add(A, priority: true); // the user edited it while it was being reconciled
        queue.Done(A);
        Assert.Equal(A, await Take(queue));
        Assert.Equal(B, await Take(queue));
    }

    [Fact]
    public async Task A_key_in_progress_is_not_handed_out_again_until_done()
    {
        using var queue = new WorkQueue<ObjectKey>();
        queue.Add(A);
        Assert.Equal(A, await Take(queue));
        queue.Add(A); // changed while being reconciled
        Assert.Equal(0, queue.Depth);
        var second = queue.TakeAsync(new CancellationTokenSource(TimeSpan.FromMilliseconds(200)).Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        queue.Done(A);
        Assert.Equal(1, queue.Depth);
        Assert.Equal(A, await Take(queue));
    }

    [Fact]
    public async Task Failures_back_off_exponentially_and_forget_resets_them()
    {
        using var queue = new WorkQueue<ObjectKey>(baseDelay: TimeSpan.FromMilliseconds(10), maxDelay: TimeSpan.FromMilliseconds(50));
        Assert.Equal(TimeSpan.FromMilliseconds(10), queue.AddRateLimited(A));
        Assert.Equal(TimeSpan.FromMilliseconds(20), queue.AddRateLimited(A));
        Assert.Equal(TimeSpan.FromMilliseconds(40), queue.AddRateLimited(A));
        Assert.Equal(TimeSpan.FromMilliseconds(50), queue.AddRateLimited(A));
        Assert.Equal(A, await Take(queue)); // arrives after its delay, once
        queue.Done(A);
        queue.Forget(A);
        Assert.Equal(0, queue.Failures(A));
        Assert.Equal(TimeSpan.FromMilliseconds(10), queue.AddRateLimited(A));
    }

    [Fact]
    public async Task Many_workers_never_hold_the_same_key_at_once()
    {
        using var queue = new WorkQueue<ObjectKey>();
        var keys = Enumerable.Range(0, 5).Select(i => new ObjectKey("ns", $"k{i}")).ToArray();
        var holding = new System.Collections.Concurrent.ConcurrentDictionary<ObjectKey, int>();
        int overlaps = 0, processed = 0;
        using var cts = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                ObjectKey key;
                try { key = await queue.TakeAsync(cts.Token); } catch (OperationCanceledException) { return; }
                if (!holding.TryAdd(key, 1)) Interlocked.Increment(ref overlaps);
                await Task.Delay(1);
                holding.TryRemove(key, out int _);
                Interlocked.Increment(ref processed);
                queue.Done(key);
            }
        })).ToArray();
        for (int round = 0; round < 200; round++)
        {
            queue.Add(keys[round % keys.Length]);
            if (round % 10 == 0) await Task.Delay(1);
        }
        while (queue.Depth > 0) await Task.Delay(5); // polling interval
        // a worker holding a key finishes it after the cancel (cancellation is seen only when taking the next one)
        await cts.CancelAsync();
        await Task.WhenAll(workers);
        Assert.Equal(0, overlaps);
        Assert.True(processed >= keys.Length);
    }

    [Fact]
    public void Backoff_grows_with_jitter_and_caps()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), random: () => 1.0);
        Assert.Equal([100, 200, 400, 800, 1000, 1000], Enumerable.Range(0, 6).Select(_ => backoff.Next().TotalMilliseconds));
        var low = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), random: () => 0.0);
        Assert.Equal(50, low.Next().TotalMilliseconds); // half the ceiling at the least
        backoff.Reset();
        Assert.Equal(100, backoff.Next().TotalMilliseconds);
    }
}
