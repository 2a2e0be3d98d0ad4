using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// State-dict names of earlier FastReID layouts, mapped to today's (FastReID v1.x, ours) before a file is matched to
/// a model, so the check that a file fills the model (<see cref="WeightLoading.Load"/>) sees the mapped names:
/// <list type="bullet">
/// <item><c>module.</c> prefixes of DataParallel / DistributedDataParallel checkpoints are dropped;</item>
/// <item>FastReID v0.1.x heads: <c>heads.bnneck.*</c> is the BNNeck, today <c>heads.bottleneck.0.*</c> (v0.1 had no
/// embedding conv before it), and <c>heads.classifier.weight</c> the class weights, today <c>heads.weight</c>;</item>
/// <item>v0.1's persistent <c>pixel_mean</c> / <c>pixel_std</c> buffers are dropped: today they are non-persistent
/// and come from <c>MODEL.PIXEL_MEAN</c> / <c>MODEL.PIXEL_STD</c> (the same ImageNet values by default).</item>
/// </list>
/// v0.1 models were also trained with torchvision's stem max-pool, which <c>MODEL.BACKBONE.STEM torchvision</c>
/// selects: names cannot tell the stems apart.
/// </summary>
public static class FastReidLayouts
{
    public static Dictionary<string, Tensor> ToCurrentNames(Dictionary<string, Tensor> file)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (original, tensor) in file)
        {
            var name = original.StartsWith("module.", StringComparison.Ordinal) ? original["module.".Length..] : original;
            if (name is "pixel_mean" or "pixel_std") { tensor.Dispose(); continue; }
            if (name.StartsWith("heads.bnneck.", StringComparison.Ordinal)) name = "heads.bottleneck.0." + name["heads.bnneck.".Length..];
            else if (name == "heads.classifier.weight") name = "heads.weight";
            result[name] = tensor;
        }
        return result;
    }
}
