using Microsoft.ML.OnnxRuntime;

namespace FastReid.Export;

/// <summary>
/// Runs an ONNX ReID model (ours, or an external one with one image input [N, 3, H, W] and one feature
/// output [N, D]) on batches of CHW float pixels. The input size comes from the model when its H and W
/// are fixed, otherwise from the caller.
/// </summary>
public sealed class OnnxEmbedder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input, _output;
    public int Height { get; }
    public int Width { get; }
    /// <summary>The model's fixed batch size, or null for a dynamic batch axis.</summary>
    public int? StaticBatch { get; }

    public OnnxEmbedder(string modelPath, int? height, int? width)
    {
        if (!File.Exists(modelPath)) throw new FastReidException($"--onnx: model '{modelPath}' does not exist");
        try { _session = new InferenceSession(modelPath); }
        catch (OnnxRuntimeException e) { throw new FastReidException($"--onnx: '{modelPath}' is not a loadable ONNX model: {e.Message}", e); }
        if (_session.InputMetadata.Count != 1)
            throw new FastReidException($"--onnx: '{modelPath}' has {_session.InputMetadata.Count} inputs; an embedding model takes one image tensor");
        var (name, meta) = _session.InputMetadata.First();
        var dims = meta.Dimensions;
        if (dims.Length != 4 || dims[1] is not (3 or -1))
            throw new FastReidException($"--onnx: input '{name}' has shape [{string.Join(", ", dims)}]; expected [batch, 3, height, width]");
        _input = name;
        _output = _session.OutputNames[0];
        StaticBatch = dims[0] > 0 ? dims[0] : null;
        Height = dims[2] > 0 ? dims[2] : height ?? throw new FastReidException($"--onnx: the model's height is not fixed; give --size HxW");
        Width = dims[3] > 0 ? dims[3] : width ?? throw new FastReidException($"--onnx: the model's width is not fixed; give --size HxW");
        if (height is { } h && dims[2] > 0 && h != dims[2] || width is { } w && dims[3] > 0 && w != dims[3])
            throw new FastReidException($"input size {height}x{width} (--size or INPUT.SIZE_TEST) does not match the model's fixed input {dims[2]}x{dims[3]}");
    }

    /// <summary>Embeddings of <paramref name="count"/> images; returns row-major [count, dim].</summary>
    public (float[] Features, int Dim) Embed(float[] pixels, int count)
    {
        if (StaticBatch is { } batch && count != batch)
            throw new FastReidException($"--onnx: the model has a static batch of {batch}, not {count}");
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [count, 3, Height, Width]);
        using var options = new RunOptions();
        using var outputs = _session.Run(options, new Dictionary<string, OrtValue> { [_input] = input }, [_output]);
        var shape = outputs[0].GetTensorTypeAndShape().Shape;
        if (shape.Length != 2 || shape[0] != count)
            throw new FastReidException($"--onnx: output '{_output}' has shape [{string.Join(", ", shape)}]; expected [{count}, D]");
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), (int)shape[1]);
    }

    public void Dispose() => _session.Dispose();
}
