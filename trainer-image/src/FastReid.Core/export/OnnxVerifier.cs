using FastReid.Modeling.MetaArch;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Export;

/// <summary>
/// One comparison of onnxruntime against the TorchSharp model on the same batch. The relative error is
/// per image: max |onnx - torch| over the embedding divided by max |torch| of that embedding, the worst
/// image counting (element-wise ratios blow up on features near zero).
/// </summary>
public sealed record VerifyCheck(string Input, int Batch, double MaxAbsError, double MaxRelativeError, bool Passed);

/// <summary>Runs an ONNX model in onnxruntime and the TorchSharp model side by side.</summary>
public static class OnnxVerifier
{
    public static VerifyCheck CompareRandom(MetaArch model, InferenceSession session, int batch, long height, long width, double tolerance, long seed)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var images = torch.rand([batch, 3, height, width], generator: generator) * 255f;
        return Compare(model, session, images, "random uniform 0-255", tolerance);
    }

    /// <summary>Compares both runtimes on <paramref name="images"/> float32 [N, 3, H, W] RGB 0–255 on the CPU.</summary>
    public static VerifyCheck Compare(MetaArch model, InferenceSession session, Tensor images, string inputLabel, double tolerance)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.eval();
        var cpu = images.to(float32).cpu().contiguous();
        var expected = model.forward(cpu.to(ModelDevice(model))).cpu().to(float32);
        var actual = Run(session, cpu.data<float>().ToArray(), cpu.shape);
        if (actual.Shape.Length != 2 || actual.Shape[0] != expected.shape[0] || actual.Shape[1] != expected.shape[1])
            throw new FastReidException($"ONNX output 'features' has shape [{string.Join(", ", actual.Shape)}], the model gives [{string.Join(", ", expected.shape)}]");
        var onnx = torch.tensor(actual.Values).view(expected.shape);
        var diff = (onnx - expected).abs();
        double maxAbs = diff.max().item<float>();
        var perImage = diff.amax([1]) / expected.abs().amax([1]).clamp_min(1e-12);
        double maxRel = perImage.max().item<float>();
        return new VerifyCheck(inputLabel, (int)images.shape[0], maxAbs, maxRel, maxRel <= tolerance && double.IsFinite(maxRel));
    }

    /// <summary>Runs the graph's <c>images</c> → <c>features</c> on <paramref name="pixels"/>.</summary>
    public static (float[] Values, long[] Shape) Run(InferenceSession session, float[] pixels, long[] shape)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, new Dictionary<string, OrtValue> { [BaselineOnnxWriter.InputName] = input }, [BaselineOnnxWriter.OutputName]);
        var output = outputs[0];
        return (output.GetTensorDataAsSpan<float>().ToArray(), output.GetTensorTypeAndShape().Shape);
    }

    private static Device ModelDevice(nn.Module model) => model.parameters().FirstOrDefault()?.device ?? CPU;
}
