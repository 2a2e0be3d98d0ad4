using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Modeling.Layers;

/// <summary>Normalisation layers chosen by name (<c>MODEL.BACKBONE.NORM</c>, <c>MODEL.HEADS.NORM</c>).</summary>
public static class Norms
{
    /// <summary>
    /// <c>BN</c>: batch norm; <c>syncBN</c>: batch norm over every rank's batch once the model is attached to
    /// its group (<see cref="Distributed.DistributedModel.Attach"/>), plain batch norm until then. Both have
    /// BatchNorm2d's parameter names, so weights move between them.
    /// </summary>
    public static BatchNorm Create(string kind, long channels, bool biasFreeze = false)
    {
        BatchNorm bn = kind switch
        {
            "BN" => new PlainBatchNorm(channels),
            "syncBN" => new SyncBatchNorm(channels),
            _ => throw new FastReidException($"normalisation '{kind}' is not supported yet (use BN or syncBN)"),
        };
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
    private readonly BatchNorm BN;

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
