using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Modeling.Layers;

/// <summary>Normalisation layers chosen by name (<c>MODEL.BACKBONE.NORM</c>, <c>MODEL.HEADS.NORM</c>).</summary>
public static class Norms
{
    public static BatchNorm2d Create(string kind, long channels, bool biasFreeze = false)
    {
        if (kind != "BN") throw new FastReidException($"normalisation '{kind}' is not supported yet (use BN)");
        var bn = nn.BatchNorm2d(channels);
        nn.init.ones_(bn.weight!);
        nn.init.zeros_(bn.bias!);
        if (biasFreeze) bn.bias!.requires_grad = false;
        return bn;
    }
}

/// <summary>
/// IBN-a (Pan et al., 2018): instance norm on the first half of the channels, batch norm on the rest.
/// Parameter names <c>IN.*</c> and <c>BN.*</c> as in FastReID.
/// </summary>
public sealed class Ibn : nn.Module<Tensor, Tensor>
{
    private readonly long half;
    private readonly InstanceNorm2d IN;
    private readonly BatchNorm2d BN;

    public Ibn(long planes, string norm) : base(nameof(Ibn))
    {
        half = planes / 2;
        IN = nn.InstanceNorm2d(half, affine: true);
        BN = Norms.Create(norm, planes - half);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var parts = x.split([half, x.shape[1] - half], 1);
        return torch.cat([IN.forward(parts[0].contiguous()), BN.forward(parts[1].contiguous())], 1).MoveToOuterDisposeScope();
    }
}
