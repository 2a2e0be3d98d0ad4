using FastReid.Config;
using FastReid.IO;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Reads and writes PyTorch-compatible weights. <c>MODEL.WEIGHTS</c> is a whole-model state dict: ours, a flat
/// state dict, or a FastReID checkpoint (its <c>model</c> entry; <see cref="TorchFile"/> reads both torch.save
/// formats), with FastReID v0.1's names mapped to today's (<see cref="FastReidLayouts"/>);
/// <c>MODEL.BACKBONE.PRETRAIN_PATH</c> holds torchvision backbone names (<c>conv1.weight</c>, <c>layer1.0...</c>;
/// <c>fc.*</c> is ignored). Both accept <c>.pth</c> and <c>.safetensors</c>. For training, entries whose shape differs
/// (e.g. a classifier for another number of identities) are skipped and reported, as FastReID's checkpointer does; a
/// model that embeds, evaluates, exports or teaches must be filled exactly (<see cref="Load"/>). Only the
/// meta-architecture's <see cref="MetaArch.SavedModule"/> is read and written: modules outside it (frozen teachers)
/// never are. Written files are FastReID checkpoints (<c>{"model": state_dict}</c>), so FastReID loads them.
/// </summary>
public static class WeightLoading
{
    public static void Save(MetaArch model, string path) => TorchFile.Save(path, model.SavedModule.state_dict());

    public static void LoadInitialWeights(FastReidConfig cfg, MetaArch model, ProgressReporter progress)
    {
        // as FastReID: the backbone's ImageNet weights first (when PRETRAIN), then MODEL.WEIGHTS over them
        if (cfg.Bool("MODEL.BACKBONE.PRETRAIN")) LoadImageNetBackbone(cfg, model, progress);
        var weights = cfg.String("MODEL.WEIGHTS");
        if (weights.Length > 0) progress.Line(Load(model, ReadStateDict(weights, "MODEL.WEIGHTS"), prefix: "", sourceName: weights));
    }

    private static void LoadImageNetBackbone(FastReidConfig cfg, MetaArch model, ProgressReporter progress)
    {
        ConfigPreflight.PretrainPathGiven(cfg);
        var pretrain = cfg.String("MODEL.BACKBONE.PRETRAIN_PATH");
        var state = ReadStateDict(pretrain, "MODEL.BACKBONE.PRETRAIN_PATH");
        foreach (var key in state.Keys.Where(k => k.StartsWith("fc.", StringComparison.Ordinal)).ToList()) state.Remove(key);
        progress.Line(Load(model, state, prefix: "backbone.", sourceName: pretrain));
    }

    public static Dictionary<string, Tensor> ReadStateDict(string path, string key)
    {
        if (path.StartsWith("s3://", StringComparison.Ordinal))
            return Storage.StorageFactory.WithLocalCopy(path, local => ReadStateDict(local, key));
        if (!File.Exists(path)) throw new FastReidException($"{key}: weights file '{path}' does not exist");
        try
        {
            var file = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? Safetensors.LoadStateDict(path) : TorchFile.ReadStateDict(path);
            return FastReidLayouts.ToCurrentNames(file);
        }
        catch (FastReidException) { throw; }
        catch (Exception e)
        {
            throw new FastReidException($"{key}: '{path}' is not a readable PyTorch (.pth) or safetensors state dict: {e.Message}", e);
        }
    }

    /// <summary>
    /// Copies matching entries into the model's saved module; returns a one-line report. A file none of whose tensors
    /// fit is always an error. With <paramref name="requireAll"/> the file must be exactly the model its config
    /// describes (a frozen teacher; the model that embeds, evaluates or exports): a tensor the model has and the
    /// file lacks or holds in another shape, or one the file has for another architecture, is a
    /// <see cref="WeightsMismatchException"/> naming them instead of a note (<see cref="WeightsMatch"/> says which
    /// extras are accepted and why). Without it, as in training's MODEL.WEIGHTS and PRETRAIN_PATH, they are skipped
    /// and reported, as FastReID's checkpointer does.
    /// </summary>
    public static string Load(MetaArch model, Dictionary<string, Tensor> source, string prefix, string sourceName, bool requireAll = false)
    {
        var target = model.SavedModule.state_dict();
        var match = WeightsMatch.Of(target.ToDictionary(kv => kv.Key, kv => kv.Value.shape), source.ToDictionary(kv => kv.Key, kv => kv.Value.shape), prefix);
        if (match.LoadedValues == 0 && match.OtherShape.Count > 0)
            throw new FastReidException($"'{sourceName}' matches the model's tensor names but none of their shapes ({WeightsMatch.Summarise(match.OtherShape)}); is it for another depth, width or FEAT_DIM?");
        if (match.LoadedValues == 0)
            throw new FastReidException($"'{sourceName}' shares no tensor names with the model (expected names like {target.Keys.First()}); is it the right file?");
        if (requireAll && !match.FillsModel)
            throw new WeightsMismatchException($"'{sourceName}' does not fill the model its config describes ({match.Problems()}): is the config the one these weights were trained with?");
        using (no_grad())
        {
            foreach (var name in match.Loadable)
            {
                var dest = target[prefix + name];
                dest.copy_(source[name].to(dest.dtype).to(dest.device));
            }
        }
        return match.Report(sourceName);
    }
}

/// <summary>A weights file that does not fill the model its config describes, where it must (<see cref="WeightLoading.Load"/>).</summary>
public sealed class WeightsMismatchException(string message) : FastReidException(message);
