using FastReid.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Modeling.MetaArch;

/// <summary>
/// What the engine, the weight loader, the feature extractor and the exporter know of a meta-architecture
/// (FastReID's <c>META_ARCH_REGISTRY</c> entries): <c>forward</c> is the evaluation embedding of RGB 0–255
/// images [N, 3, H, W]; <see cref="Losses"/> is the training forward. Only <see cref="SavedModule"/> is
/// written to <c>model_*.pth</c> and checkpoints, hashed into <c>weights_sha256</c> and exported, so a
/// meta-architecture may hold modules that are never saved (a Distiller's frozen teachers: keep them out
/// of <see cref="SavedModule"/>'s tree and move them to the device yourself).
/// </summary>
public abstract class MetaArch(string name) : nn.Module<Tensor, Tensor>(name)
{
    /// <summary>Training forward: the weighted loss terms by name (FastReID's loss_cls, loss_triplet, ...).</summary>
    public abstract Dictionary<string, Tensor> Losses(Tensor images, Tensor targets);

    /// <summary>The module whose state dict is the model's weights: saved, loaded, hashed and exported.</summary>
    public virtual nn.Module SavedModule => this;

    /// <summary>
    /// The trained top-level modules by name, in module-tree order: <c>MODEL.FREEZE_LAYERS</c> names them and
    /// the optimizer takes its parameters from them (so frozen extras outside them are never optimised).
    /// </summary>
    public abstract IReadOnlyList<(string Name, nn.Module Module)> TopLevel();

    /// <summary>
    /// The ranks of a data-parallel run, for losses that look at the global batch (null when training alone);
    /// set by <see cref="DistributedModel.Attach"/>.
    /// </summary>
    public ICollectives? Group { get; internal set; }

    public abstract long EmbeddingDim { get; }

    public abstract int NumClasses { get; }
}
