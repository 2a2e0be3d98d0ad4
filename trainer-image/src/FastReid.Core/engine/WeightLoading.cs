using System.Collections;
using FastReid.Config;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// Reads and writes PyTorch-compatible weights. <c>MODEL.WEIGHTS</c> is a whole-model state dict (ours,
/// or a FastReID checkpoint's <c>model</c> entry); <c>MODEL.BACKBONE.PRETRAIN_PATH</c> holds torchvision
/// backbone names (<c>conv1.weight</c>, <c>layer1.0...</c>; <c>fc.*</c> is ignored). Both accept
/// <c>.pth</c> and <c>.safetensors</c>. Entries whose shape differs (e.g. a classifier for another number
/// of identities) are skipped and reported, as FastReID's checkpointer does. Only the meta-architecture's
/// <see cref="MetaArch.SavedModule"/> is read and written: modules outside it (frozen teachers) never are.
/// </summary>
public static class WeightLoading
{
    public static void Save(MetaArch model, string path) => model.SavedModule.save_py(path);

    public static void LoadInitialWeights(FastReidConfig cfg, MetaArch model, ProgressReporter progress)
    {
        var weights = cfg.String("MODEL.WEIGHTS");
        if (weights.Length > 0)
        {
            progress.Line(Load(model, ReadStateDict(weights, "MODEL.WEIGHTS"), prefix: "", sourceName: weights));
            return;
        }
        if (!cfg.Bool("MODEL.BACKBONE.PRETRAIN")) return;
        var pretrain = cfg.String("MODEL.BACKBONE.PRETRAIN_PATH");
        if (pretrain.Length == 0)
            throw new FastReidException(
                "MODEL.BACKBONE.PRETRAIN is True but MODEL.BACKBONE.PRETRAIN_PATH is empty: this trainer never downloads weights; " +
                "give torchvision ImageNet weights for the backbone (.pth or .safetensors) or set MODEL.BACKBONE.PRETRAIN False");
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
            if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                return Safetensors.LoadStateDict(path);
            var table = PyTorchUnpickler.UnpickleStateDict(path);
            if (table["model"] is Hashtable nested) table = nested; // FastReID checkpoint: {"model": ..., "optimizer": ...}
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (DictionaryEntry e in table)
                if (e.Key is string name && e.Value is Tensor t) result[name.StartsWith("module.", StringComparison.Ordinal) ? name[7..] : name] = t;
            return result;
        }
        catch (FastReidException) { throw; }
        catch (Exception e)
        {
            throw new FastReidException($"{key}: '{path}' is not a readable PyTorch (.pth) or safetensors state dict: {e.Message}", e);
        }
    }

    /// <summary>
    /// Copies matching entries into the model's saved module; returns a one-line report. With
    /// <paramref name="requireAll"/> (a frozen teacher, which must be exactly the trained model), a tensor the model
    /// has and the file lacks, or has in another shape, is an error instead of a note.
    /// </summary>
    public static string Load(MetaArch model, Dictionary<string, Tensor> source, string prefix, string sourceName, bool requireAll = false)
    {
        var target = model.SavedModule.state_dict();
        int loaded = 0;
        var mismatched = new List<string>();
        var unexpected = new List<string>();
        using (no_grad())
        {
            foreach (var (name, tensor) in source)
            {
                var full = prefix + name;
                if (!target.TryGetValue(full, out var dest)) { unexpected.Add(name); continue; }
                if (!dest.shape.SequenceEqual(tensor.shape)) { mismatched.Add($"{full} {Shape(tensor)} vs {Shape(dest)}"); continue; }
                dest.copy_(tensor.to(dest.dtype).to(dest.device));
                loaded++;
            }
        }
        var missing = target.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !source.ContainsKey(k[prefix.Length..]))
            .Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
        if (loaded == 0 && mismatched.Count > 0)
            throw new FastReidException($"'{sourceName}' matches the model's tensor names but none of their shapes ({Summarise(mismatched)}); is it for another depth, width or FEAT_DIM?");
        if (loaded == 0)
            throw new FastReidException($"'{sourceName}' shares no tensor names with the model (expected names like {target.Keys.First()}); is it the right file?");
        if (requireAll && (missing.Count > 0 || mismatched.Count > 0))
            throw new FastReidException($"'{sourceName}' does not fill the model its config describes (" +
                string.Join("; ", new[] { missing.Count > 0 ? $"missing: {Summarise(missing)}" : null, mismatched.Count > 0 ? $"other shape: {Summarise(mismatched)}" : null }.OfType<string>()) +
                "): is the config the one these weights were trained with?");
        var report = $"loaded {loaded} tensors from {sourceName}";
        if (missing.Count > 0) report += $"; not in the file: {Summarise(missing)}";
        if (unexpected.Count > 0) report += $"; not in the model: {Summarise(unexpected)}";
        if (mismatched.Count > 0) report += $"; skipped for shape: {Summarise(mismatched)}";
        return report;
    }

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    private static string Summarise(List<string> names) =>
        names.Count <= 4 ? string.Join(", ", names) : string.Join(", ", names.Take(4)) + $" and {names.Count - 4} more";
}
