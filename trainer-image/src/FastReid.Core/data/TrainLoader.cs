using FastReid.Data.Transforms;

namespace FastReid.Data;

/// <summary>One training batch: images [Count, 3, Height, Width] (RGB 0–255) and class labels.</summary>
public sealed record Batch(float[] Images, long[] Labels, int Count, int Height, int Width);

/// <summary>
/// Decodes and augments training batches on worker threads ahead of the training step, keeping
/// <c>prefetch</c> batches in flight, in sampler order. Sample <c>i</c> of batch <c>b</c> is augmented
/// with a generator seeded from (seed, b, i), so the batches are identical whatever the thread timing,
/// and a resumed run that skips the first <c>b</c> batches sees exactly what the uninterrupted run saw.
/// <para>
/// Data-parallel: the sampler yields global batches on every rank (same seed, same stream), and rank r of W
/// builds its contiguous slice r; a sample is seeded by its position in the global batch, so W ranks see
/// between them exactly the images and augmentations one process sees.
/// </para>
/// </summary>
public sealed class TrainLoader : IDisposable
{
    private readonly IReadOnlyList<ImageRecord> _records;
    private readonly IReadOnlyList<int> _labels;
    private readonly ImageDecoder _decoder;
    private readonly Augmenter _augmenter;
    private readonly IEnumerator<int[]> _batches;
    private readonly int _seed;
    private readonly ParallelOptions _parallel;
    private readonly Queue<Task<Batch>> _inFlight = new();
    private readonly int _prefetch;
    private readonly CancellationTokenSource _stop = new();
    private long _nextBatch;
    private readonly int _rank, _worldSize;

    public TrainLoader(IReadOnlyList<ImageRecord> records, IReadOnlyList<int> labels, ImageDecoder decoder, Augmenter augmenter,
        IEnumerable<int[]> batches, int seed, int workers, int prefetch = 4, long skipBatches = 0, int rank = 0, int worldSize = 1)
    {
        _rank = rank;
        _worldSize = worldSize;
        _records = records;
        _labels = labels;
        _decoder = decoder;
        _augmenter = augmenter;
        _batches = batches.GetEnumerator();
        _seed = seed;
        _prefetch = Math.Max(1, prefetch);
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers), CancellationToken = _stop.Token };
        for (long i = 0; i < skipBatches; i++) _batches.MoveNext();
        _nextBatch = skipBatches;
        Position = skipBatches;
    }

    /// <summary>Batches drawn from the sampler stream so far, skipped ones included (the data position a checkpoint records).</summary>
    public long Position { get; private set; }

    public Batch Next()
    {
        while (_inFlight.Count < _prefetch) Enqueue();
        var task = _inFlight.Dequeue();
        Enqueue();
        Position++;
        return task.GetAwaiter().GetResult(); // rethrows a worker's error (e.g. a corrupt image) as is
    }

    private void Enqueue()
    {
        _batches.MoveNext();
        var global = _batches.Current;
        var indices = _worldSize == 1 ? global : Samplers.IdentitySamplers.RankSlice(global, _rank, _worldSize);
        int firstPosition = _rank * indices.Length;
        long batchNumber = _nextBatch++;
        _inFlight.Enqueue(Task.Run(() => Build(indices, batchNumber, firstPosition)));
    }

    private Batch Build(int[] indices, long batchNumber, int firstPosition)
    {
        int h = _decoder.Height, w = _decoder.Width, size = 3 * h * w;
        var images = new float[indices.Length * size];
        var labels = new long[indices.Length];
        ParallelWork.For(indices.Length, _parallel, i =>
        {
            var record = _records[indices[i]];
            var rgb = _decoder.Load(record.Path);
            var rng = new Random(Seed(_seed, batchNumber, firstPosition + i));
            _augmenter.Apply(rgb, h, w, images.AsSpan(i * size, size), rng);
            labels[i] = _labels[indices[i]];
        });
        return new Batch(images, labels, indices.Length, h, w);
    }

    private static int Seed(int seed, long batch, int position) =>
        (int)(((ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)batch * 0xBF58476D1CE4E5B9UL ^ (ulong)position * 0x94D049BB133111EBUL) >> 33);

    public void Dispose()
    {
        _stop.Cancel();
        try { Task.WaitAll(_inFlight.ToArray()); } catch (AggregateException) { }
        _batches.Dispose();
        _stop.Dispose();
    }
}
