using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Modeling.Layers;

/// <summary>
/// The classifier output transforms of FastReID's <c>any_softmax</c>, chosen by <c>MODEL.HEADS.CLS_LAYER</c>:
/// they turn logits (cosines for the margin-based kinds) into the scaled, margin-adjusted outputs the
/// cross-entropy loss sees. No parameters: the class weights live in the head.
/// </summary>
public sealed class AnySoftmax(string kind, double scale, double margin)
{
    public string Kind { get; } = kind switch
    {
        "Linear" or "CosSoftmax" or "ArcSoftmax" or "CircleSoftmax" => kind,
        _ => throw new FastReidException($"MODEL.HEADS.CLS_LAYER: unknown classifier '{kind}' (Linear, CosSoftmax, ArcSoftmax, CircleSoftmax)"),
    };

    public double Scale { get; } = scale;
    public double Margin { get; } = margin;
    public bool UsesCosine => Kind != "Linear";

    public Tensor Apply(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var oneHot = nn.functional.one_hot(targets, logits.shape[1]).to(logits.dtype);
        Tensor result = Kind switch
        {
            "Linear" => logits * Scale,
            "CosSoftmax" => (logits - oneHot * Margin) * Scale,
            "ArcSoftmax" => Arc(logits, oneHot),
            _ => Circle(logits, oneHot),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ArcFace as FastReID's HEAD has it: <c>cos(θ + m)</c> on the true class with no threshold (an older
    /// FastReID replaced it by <c>cos θ − m·sin m</c> past θ + m = π). The other classes keep their cosine,
    /// which is what FastReID's <c>cos(acos(x))</c> gives them, without acos's infinite slope at ±1; the clamp
    /// only keeps a cosine one rounding step past ±1 in acos's domain.
    /// </summary>
    private Tensor Arc(Tensor cosine, Tensor oneHot)
    {
        var target = (cosine.clamp(-1, 1).acos() + Margin).cos();
        return (cosine * (1 - oneHot) + target * oneHot) * Scale;
    }

    private Tensor Circle(Tensor cosine, Tensor oneHot)
    {
        var alphaP = nn.functional.relu(-cosine.detach() + 1 + Margin);
        var alphaN = nn.functional.relu(cosine.detach() + Margin);
        double deltaP = 1 - Margin, deltaN = Margin;
        var sP = alphaP * (cosine - deltaP) * Scale;
        var sN = alphaN * (cosine - deltaN) * Scale;
        return sP * oneHot + sN * (1 - oneHot);
    }
}
