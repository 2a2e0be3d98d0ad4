using FastReid.Export;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// What computes evaluation embeddings of a batch of images: pixels are float RGB 0–255, [count, 3, H, W]
/// row-major, the convention of both the trainer's test transform and our exported ONNX graphs. With
/// <c>flip</c>, the embedding of each image and of its mirror are averaged (FastReID's flip test).
/// </summary>
public interface IFeatureModel
{
    /// <summary>Embedding dimension; known after the first batch for models that do not declare it.</summary>
    int? Dim { get; }

    /// <summary>Row-major [count, Dim] embeddings.</summary>
    float[] Embed(float[] pixels, int count, int height, int width, bool flip);
}

/// <summary>The TorchSharp model, in eval mode under no_grad for each batch (its training mode is restored).</summary>
public sealed class TorchFeatureModel(MetaArch model, Device device) : IFeatureModel
{
    public int? Dim => (int)model.EmbeddingDim;

    public float[] Embed(float[] pixels, int count, int height, int width, bool flip)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var images = torch.tensor(pixels, [count, 3, height, width]).to(device);
            var emb = model.forward(images);
            if (flip) emb = (emb + model.forward(images.flip(3))) / 2;
            return emb.to(CPU).contiguous().data<float>().ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}

/// <summary>
/// An ONNX model in onnxruntime: ours (normalisation inside the graph) or an external one, for which
/// <paramref name="mean"/> and <paramref name="std"/> (RGB, 0–255 scale) normalise the pixels first. A model with
/// a static batch gets batches of exactly that size (the last one padded, the padding's outputs dropped).
/// </summary>
public sealed class OnnxFeatureModel(OnnxEmbedder embedder, float[]? mean = null, float[]? std = null) : IFeatureModel
{
    private readonly float[] _mean = mean ?? [0, 0, 0];
    private readonly float[] _std = std ?? [1, 1, 1];

    public int? Dim { get; private set; }

    public float[] Embed(float[] pixels, int count, int height, int width, bool flip)
    {
        int plane = height * width;
        if (!(_mean.All(m => m == 0) && _std.All(s => s == 1)))
        {
            pixels = (float[])pixels.Clone();
            for (int i = 0; i < count; i++)
                for (int c = 0; c < 3; c++)
                    foreach (ref var v in pixels.AsSpan((i * 3 + c) * plane, plane)) v = (v - _mean[c]) / _std[c];
        }
        var features = Run(pixels, count, 3 * plane);
        if (flip)
        {
            var mirrored = Mirror(pixels, count * 3 * height, width);
            var second = Run(mirrored, count, 3 * plane);
            for (int i = 0; i < features.Length; i++) features[i] = (features[i] + second[i]) / 2;
        }
        return features;
    }

    private float[] Run(float[] pixels, int count, int imageSize)
    {
        if (embedder.StaticBatch is not { } batch || batch == count)
            return Keep(embedder.Embed(pixels, count));
        float[]? result = null;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            var chunk = new float[batch * imageSize]; // zero padding after the n real images
            Array.Copy(pixels, (long)start * imageSize, chunk, 0, (long)n * imageSize);
            var features = Keep(embedder.Embed(chunk, batch));
            int dim = Dim!.Value;
            result ??= new float[count * dim];
            Array.Copy(features, 0, result, (long)start * dim, (long)n * dim);
        }
        return result!;
    }

    private float[] Keep((float[] Features, int Dim) output)
    {
        if (Dim is { } d && d != output.Dim) throw new FastReidException($"--onnx: the model's output dimension changed from {d} to {output.Dim}");
        Dim = output.Dim;
        return output.Features;
    }

    /// <summary>Reverses every row of <paramref name="width"/> values (the W axis of NCHW).</summary>
    private static float[] Mirror(float[] pixels, int rows, int width)
    {
        var mirrored = new float[pixels.Length];
        for (int r = 0; r < rows; r++)
        {
            var row = mirrored.AsSpan(r * width, width);
            pixels.AsSpan(r * width, width).CopyTo(row);
            row.Reverse();
        }
        return mirrored;
    }
}
