using FastReid.Data;
using FastReid.Data.Transforms;
using FastReid.Evaluation;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Computes evaluation embeddings of a list of images in batches (decoding on worker threads), with
/// FastReID's flip test: the embedding of an image and of its mirror are averaged (the evaluator
/// normalises once).
/// </summary>
public sealed class FeatureExtractor(Baseline model, ImageDecoder decoder, Device device, int batchSize, bool flip, int workers)
{
    public FeatureSet Extract(IReadOnlyList<ImageRecord> records, Action<int, int>? progress = null)
    {
        int dim = (int)model.EmbeddingDim;
        var features = new float[records.Count * dim];
        int h = decoder.Height, w = decoder.Width, size = 3 * h * w;
        bool wasTraining = model.training;
        model.eval();
        try
        {
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
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var images = torch.tensor(pixels, [count, 3, h, w]).to(device);
                var emb = model.forward(images);
                if (flip) emb = (emb + model.forward(images.flip(3))) / 2;
                var host = emb.to(CPU).contiguous().data<float>().ToArray();
                Array.Copy(host, 0, features, (long)start * dim, host.Length);
                progress?.Invoke(start + count, records.Count);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return new FeatureSet(features, records.Count, dim,
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
