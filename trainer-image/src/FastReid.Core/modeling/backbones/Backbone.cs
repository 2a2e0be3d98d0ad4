using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Modeling.Backbones;

/// <summary>A backbone: images in, a feature map of <see cref="OutChannels"/> channels out (what a head is sized from).</summary>
public abstract class Backbone(string name) : nn.Module<Tensor, Tensor>(name)
{
    public abstract long OutChannels { get; }
}
