using FastReid.Data;
using FastReid.Data.Transforms;
using FastReid.Evaluation;
using FastReid.Modeling.MetaArch;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Computes evaluation embeddings of a list of images in batches (decoding on worker threads, one batch
/// ahead of the model), with FastReID's flip test: the embedding of an image and of its mirror are
/// averaged (the evaluator normalises once). The model is the TorchSharp one or an ONNX model.
/// </summary>
public sealed class FeatureExtractor(IFeatureModel model, ImageDecoder decoder, int batchSize, bool flip, int workers)
{
    public FeatureExtractor(MetaArch model, ImageDecoder decoder, Device device, int batchSize, bool flip, int workers)
        : this(new TorchFeatureModel(model, device), decoder, batchSize, flip, workers)
    {
    }

    public FeatureSet Extract(IReadOnlyList<ImageRecord> records, Action<int, int>? progress = null)
    {
        if (batchSize < 1) throw new FastReidException($"the test batch size must be at least 1 (got {batchSize})");
        float[]? features = model.Dim is { } known ? new float[(long)records.Count * known] : null;
        int h = decoder.Height, w = decoder.Width, size = 3 * h * w;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers) };
        Task<float[]>? next = null;
        for (int start = 0; start < records.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, records.Count - start);
            var pixels = (next ?? Decode(records, start, count, size, parallel)).GetAwaiter().GetResult();
            int nextStart = start + batchSize;
            next = nextStart < records.Count
                ? Decode(records, nextStart, Math.Min(batchSize, records.Count - nextStart), size, parallel)
                : null;
            var batch = model.Embed(pixels, count, h, w, flip);
            features ??= new float[(long)records.Count * model.Dim!.Value];
            Array.Copy(batch, 0, features, (long)start * model.Dim!.Value, batch.Length);
            progress?.Invoke(start + count, records.Count);
        }
        int dim = model.Dim ?? 0;
        return new FeatureSet(features ?? [], records.Count, dim,
            records.Select(r => (long)r.Pid).ToArray(), records.Select(r => (long)r.CamId).ToArray());
    }
    private Task<float[]> Decode(IReadOnlyList<ImageRecord> records, int start, int count, int size, ParallelOptions parallel) =>
        Task.Run(() =>
        {
            var pixels = new float[count * size];
            Data.ParallelWork.For(count, parallel, i =>
                Augmenter.ToChw(decoder.Load(records[start + i].Path), decoder.Height, decoder.Width, pixels.AsSpan(i * size, size)));
            return pixels;
        });
}
