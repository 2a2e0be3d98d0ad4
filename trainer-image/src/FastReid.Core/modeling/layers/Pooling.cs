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
    private const double Eps = 1e-6;
    private readonly double fixedP;
    private readonly Parameter? p;

    public GeneralizedMeanPooling(double norm, bool learnable) : base(learnable ? "GeneralizedMeanPoolingP" : "GeneralizedMeanPooling")
    {
        fixedP = norm;
        if (learnable) p = nn.Parameter(torch.ones(1) * norm);
        RegisterComponents();
    }

    public double P => p is null ? fixedP : p.item<float>();

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor result = p is null
            ? nn.functional.adaptive_avg_pool2d(x.clamp(min: Eps).pow(fixedP), 1).pow(1.0 / fixedP)
            : nn.functional.adaptive_avg_pool2d(x.clamp(min: Eps).pow(p), 1).pow(1.0 / p);
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
        return (nn.functional.adaptive_avg_pool2d(x, 1) + nn.functional.adaptive_max_pool2d(x, [1, 1])).MoveToOuterDisposeScope();
    }
}
