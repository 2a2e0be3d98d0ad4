using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Modeling.Layers;

/// <summary>Global pooling layers chosen by <c>MODEL.HEADS.POOL_LAYER</c>, as FastReID names them.</summary>
public static class Pooling
{
    public static nn.Module<Tensor, Tensor> Create(string name) => name switch
    {
        "GlobalAvgPool" => nn.AdaptiveAvgPool2d(1),
        "GlobalMaxPool" => nn.AdaptiveMaxPool2d([1, 1]),
        "GeneralizedMeanPooling" => new GeneralizedMeanPooling(3.0, learnable: false),
        "GeneralizedMeanPoolingP" => new GeneralizedMeanPooling(3.0, learnable: true),
        "AdaptiveAvgMaxPool" => new AdaptiveAvgMaxPool(),
        _ => throw new FastReidException($"MODEL.HEADS.POOL_LAYER: unknown pooling '{name}'"),
    };
}

/// <summary>GeM pooling: (mean x^p)^(1/p), p fixed at 3 or learnt (parameter <c>p</c>, FastReID's GeMP).</summary>
public sealed class GeneralizedMeanPooling : nn.Module<Tensor, Tensor>
{
    // Scalars held by the module (see Scalars): the clamp bound and the fixed exponent and its inverse
    private readonly Scalar eps = 1e-6.ToScalar();
    private readonly double fixedP;
    private readonly Scalar fixedPower, fixedRoot;
    private readonly Parameter? p;

    public GeneralizedMeanPooling(double norm, bool learnable) : base(learnable ? "GeneralizedMeanPoolingP" : "GeneralizedMeanPooling")
    {
        fixedP = norm;
        fixedPower = norm.ToScalar();
        fixedRoot = (1.0 / norm).ToScalar();
        if (learnable) p = nn.Parameter(torch.ones(1) * norm);
        RegisterComponents();
    }

    public double P => p is null ? fixedP : p.item<float>();

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor result = p is null
            ? nn.functional.adaptive_avg_pool2d(x.clamp(min: eps).pow(fixedPower), 1).pow(fixedRoot)
            : nn.functional.adaptive_avg_pool2d(x.clamp(min: eps).pow(p), 1).pow(p.reciprocal());
        return result.MoveToOuterDisposeScope();
    }
}

/// <summary>Sum of global average and global max pooling.</summary>
public sealed class AdaptiveAvgMaxPool : nn.Module<Tensor, Tensor>
{
    public AdaptiveAvgMaxPool() : base(nameof(AdaptiveAvgMaxPool)) { }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.adaptive_avg_pool2d(x, 1).add(nn.functional.adaptive_max_pool2d(x, [1, 1]), Scalars.One).MoveToOuterDisposeScope();
    }
}
