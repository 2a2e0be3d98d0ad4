using FastReid.Modeling.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>
/// Joins a model built from its config to the ranks of a data-parallel run, as PyTorch's
/// <c>convert_sync_batchnorm(model, group)</c> does after construction: every <see cref="SyncBatchNorm"/>
/// normalises over the group's whole batch and every meta-architecture hands the group to its losses (the
/// triplet loss mines over the global batch). Call it once, on every rank, before training; a model never
/// attached, or attached to a group of one, computes exactly what it computes alone.
/// </summary>
public static class DistributedModel
{
    public static void Attach(nn.Module model, ICollectives group)
    {
        Visit(model, group);
        foreach (var (_, module) in model.named_modules()) Visit(module, group);
    }

    private static void Visit(nn.Module module, ICollectives group)
    {
        switch (module)
        {
            case SyncBatchNorm bn: bn.Group = group; break;
            case Modeling.MetaArch.MetaArch arch: arch.Group = group; break;
        }
    }
}
