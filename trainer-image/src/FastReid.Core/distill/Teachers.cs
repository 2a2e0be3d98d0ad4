using FastReid.Config;
using FastReid.Engine;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Distill;

/// <summary>
/// Builds a Distiller's frozen teachers from <c>KD.MODEL_CONFIG</c> and <c>KD.MODEL_WEIGHTS</c> (FastReID's keys;
/// local paths or <c>s3://</c> URIs; our .pth/.safetensors or FastReID checkpoints). Each file whose digest is
/// given in <c>KD.MODEL_CONFIG_SHA256</c> / <c>KD.MODEL_WEIGHTS_SHA256</c> is checked first (a DistillJob passes
/// the digests its teachers published). As in FastReID, a teacher is a Baseline (whatever its config says) with
/// batch norm instead of syncBN; unlike FastReID it is put in eval mode, so its statistics never drift.
/// </summary>
public static class Teachers
{
    public static List<Baseline> Load(FastReidConfig cfg, int studentClasses, bool logitKd, Action<string> log)
    {
        var configs = cfg.Strings("KD.MODEL_CONFIG");
        var weights = cfg.Strings("KD.MODEL_WEIGHTS");
        if (configs.Length != weights.Length)
            throw new FastReidException($"KD.MODEL_CONFIG has {configs.Length} entries but KD.MODEL_WEIGHTS has {weights.Length}: give one config and one weights file per teacher");
        var configDigests = Digests(cfg, "KD.MODEL_CONFIG_SHA256", configs.Length);
        var weightDigests = Digests(cfg, "KD.MODEL_WEIGHTS_SHA256", weights.Length);
        var teachers = new List<Baseline>();
        try
        {
            for (int i = 0; i < configs.Length; i++)
                teachers.Add(LoadOne(i, configs[i], configDigests[i], weights[i], weightDigests[i], studentClasses, logitKd, log));
        }
        catch
        {
            foreach (var t in teachers) t.Dispose();
            throw;
        }
        return teachers;
    }

    /// <summary>
    /// A teacher's config as FastReID's Distiller makes it: a Baseline, BN for syncBN (a teacher is not attached to
    /// the ranks), no ImageNet weights (its own weights follow).
    /// </summary>
    public static FastReidConfig AsTeacherConfig(FastReidConfig cfg)
    {
        var t = cfg.Clone();
        t.SetValue("MODEL.META_ARCHITECTURE", "Baseline");
        if (t.String("MODEL.BACKBONE.NORM") == "syncBN") t.SetValue("MODEL.BACKBONE.NORM", "BN");
        if (t.String("MODEL.HEADS.NORM") == "syncBN") t.SetValue("MODEL.HEADS.NORM", "BN");
        t.SetValue("MODEL.BACKBONE.PRETRAIN", false);
        t.SetValue("MODEL.WEIGHTS", "");
        return t;
    }

    /// <summary>Freezes <paramref name="model"/>: no gradients, eval mode.</summary>
    public static void Freeze(nn.Module model)
    {
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
    }

    private static Baseline LoadOne(int i, string configUri, string configSha, string weightsUri, string weightsSha, int studentClasses, bool logitKd, Action<string> log)
    {
        var teacherCfg = Verified(configUri, configSha, $"KD.MODEL_CONFIG[{i}]", local => ConfigLoader.Load(local));
        var state = Verified(weightsUri, weightsSha, $"KD.MODEL_WEIGHTS[{i}]", local => WeightLoading.ReadStateDict(local, $"KD.MODEL_WEIGHTS[{i}]"));
        teacherCfg = AsTeacherConfig(teacherCfg);
        int classes = teacherCfg.Int("MODEL.HEADS.NUM_CLASSES");
        if (classes == 0) classes = state.TryGetValue("heads.weight", out var w) ? (int)w.shape[0] : 0;
        if (classes == 0)
            throw new FastReidException($"KD.MODEL_WEIGHTS[{i}] '{weightsUri}' has no heads.weight and KD.MODEL_CONFIG[{i}] sets no MODEL.HEADS.NUM_CLASSES: is it a ReID model's weights?");
        if (logitKd && classes != studentClasses)
            throw new FastReidException(
                $"teacher {i} ('{weightsUri}') classifies {classes} identities but the student's training set has {studentClasses}: logit distillation needs " +
                "the teacher trained on the same identities in the same order (FastReID issue #271). Train the teacher on this dataset, " +
                "or use MODEL.META_ARCHITECTURE DistillerOverhaul with KD.LOSS_WEIGHT 0 for feature-only distillation");
        teacherCfg.SetValue("MODEL.HEADS.NUM_CLASSES", (long)classes);
        var teacher = new Baseline(teacherCfg, classes);
        try
        {
            log($"teacher {i}: " + WeightLoading.Load(teacher, state, prefix: "", sourceName: weightsUri, requireAll: true));
            Freeze(teacher);
            return teacher;
        }
        catch
        {
            teacher.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    private static string[] Digests(FastReidConfig cfg, string key, int count)
    {
        var digests = cfg.Strings(key);
        if (digests.Length == 0) return new string[count].Select(_ => "").ToArray();
        if (digests.Length != count)
            throw new FastReidException($"{key} has {digests.Length} entries for {count} teacher file(s): give one digest per file (\"\" to skip one) or none");
        foreach (var (d, j) in digests.Select((d, j) => (d, j)))
            if (d.Length > 0 && (d.Length != 64 || !d.All(Uri.IsHexDigit)))
                throw new FastReidException($"{key}[{j}] '{d}' is not a sha256 digest (64 hex digits)");
        return digests.Select(d => d.ToLowerInvariant()).ToArray();
    }

    /// <summary>Reads the file at <paramref name="uri"/> (local or s3://) after checking its sha256 when one is expected.</summary>
    private static T Verified<T>(string uri, string expected, string key, Func<string, T> read)
    {
        if (uri.Length == 0) throw new FastReidException($"{key} is empty");
        if (uri.StartsWith("s3://", StringComparison.Ordinal))
            return Storage.StorageFactory.WithLocalCopy(uri, local => Verified(local, expected, key, read, uri));
        if (!File.Exists(uri)) throw new FastReidException($"{key}: '{uri}' does not exist");
        return Verified(uri, expected, key, read, uri);
    }

    private static T Verified<T>(string local, string expected, string key, Func<string, T> read, string uri)
    {
        if (expected.Length > 0 && ArtefactFiles.Sha256File(local) is var actual && actual != expected)
            throw new InputRefusedException(
                $"{key} '{uri}' has sha256 {actual} but {key.Replace("[", "_SHA256[", StringComparison.Ordinal)} expects {expected}: " +
                "the teacher's file changed after its digest was taken (retrained or overwritten); refusing to distil from it");
        return read(local);
    }
}
