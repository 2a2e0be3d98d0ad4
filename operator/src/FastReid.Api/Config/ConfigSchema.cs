namespace FastReid.Config;

/// <summary>The value kinds a FastReID config key can hold (yacs types, tuples read as lists).</summary>
public enum ConfigValueKind { Bool, Int, Float, String, IntList, FloatList, StringList }

/// <summary>
/// One FastReID config key. <paramref name="Supported"/> false marks a key FastReID has that we do not
/// implement yet: it may appear with its default value (a no-op) but any other value is refused.
/// <paramref name="Allowed"/> lists the accepted values of string keys, or of each item of a string list (null: any).
/// </summary>
public sealed record ConfigKey(
    string Name, ConfigValueKind Kind, object Default, string Help,
    bool Supported = true, IReadOnlyList<string>? Allowed = null)
{
    /// <summary>What a number, or each item of a number list, may be; integers default to the 32-bit range (null for other kinds: any).</summary>
    public ValueRange? Range { get; init; }

    /// <summary>How many items a list must have (null: any number).</summary>
    public int? Length { get; init; }

    /// <summary>The fewest items a list may have (0: it may be empty).</summary>
    public int MinItems { get; init; }

    /// <summary>The range checked: <see cref="Range"/>, or the 32-bit integers for integer keys.</summary>
    public ValueRange? EffectiveRange => Range ?? (Kind is ConfigValueKind.Int or ConfigValueKind.IntList ? ValueRange.Int32 : null);
}

/// <summary>
/// The FastReID config keys we know, their types and FastReID's defaults (fastreid/config/defaults.py).
/// Shared by the trainer (which reads them) and the operator (which validates <c>spec.config</c>).
/// </summary>
public static class ConfigSchema
{
    private static readonly double[] ImageNetMean = [0.485 * 255, 0.456 * 255, 0.406 * 255];
    private static readonly double[] ImageNetStd = [0.229 * 255, 0.224 * 255, 0.225 * 255];
    // declared before Keys: static fields are initialised in the order they are written
    private static readonly ValueRange NonNegative = new(0, double.PositiveInfinity);
    private static readonly ValueRange Positive = new(0, double.PositiveInfinity, AboveMin: true);
    private static readonly ValueRange Fraction = new(0, 1);

    public static IReadOnlyList<ConfigKey> Keys { get; } =
    [
        S("MODEL.DEVICE", "cuda", "cuda or cpu; cuda falls back to cpu with a warning when no GPU is visible", "cuda", "cpu"),
        S("MODEL.META_ARCHITECTURE", "Baseline", "meta-architecture; Distiller adds logit KD from KD.MODEL_CONFIG/KD.MODEL_WEIGHTS teachers, DistillerOverhaul adds overhaul feature distillation", "Baseline", "Distiller", "DistillerOverhaul"),
        SL("MODEL.FREEZE_LAYERS", [], "top-level modules frozen for SOLVER.FREEZE_ITERS iterations (e.g. backbone)"),
        S("MODEL.BACKBONE.NAME", "build_resnet_backbone", "backbone builder", "build_resnet_backbone"),
        S("MODEL.BACKBONE.DEPTH", "50x", "ResNet depth", "18x", "34x", "50x", "101x"),
        F("MODEL.BACKBONE.WIDTH_MULT", 1.0, "FastReid.K8s extension: channel width multiplier of the ResNet (0.5 = half width, for CPU recipes and tests; 1.0 keeps torchvision shapes)", range: new(0.125, 4)),
        I("MODEL.BACKBONE.LAST_STRIDE", 1, "stride of the last stage (1 keeps a larger feature map)", min: 1, max: 2),
        I("MODEL.BACKBONE.FEAT_DIM", 2048, "channels of the backbone output (512 for ResNet-18/34, 2048 for 50/101)", min: 1, max: MaxChannels),
        S("MODEL.BACKBONE.NORM", "BN", "normalisation layer; syncBN normalises over every rank's batch in data-parallel training", "BN", "syncBN"),
        Bo("MODEL.BACKBONE.WITH_IBN", false, "IBN-a blocks (instance + batch norm)"),
        Bo("MODEL.BACKBONE.WITH_SE", false, "squeeze-and-excitation blocks", supported: false),
        Bo("MODEL.BACKBONE.WITH_NL", false, "non-local blocks in stages 2 and 3"),
        S("MODEL.BACKBONE.STEM", "fastreid", "FastReid.K8s extension: the stem's max-pool; fastreid = FastReID v1.x's (3x3, stride 2, no padding, ceil mode), torchvision = padding 1 without ceil mode, which FastReID v0.1.x model-zoo checkpoints were trained with", "fastreid", "torchvision"),
        Bo("MODEL.BACKBONE.PRETRAIN", false, "load ImageNet weights from PRETRAIN_PATH into the backbone (before MODEL.WEIGHTS, when both are given)"),
        S("MODEL.BACKBONE.PRETRAIN_PATH", "", "backbone weights (.pth or .safetensors, torchvision names)"),
        S("MODEL.HEADS.NAME", "EmbeddingHead", "head", "EmbeddingHead"),
        S("MODEL.HEADS.NORM", "BN", "normalisation in the head (BN or syncBN, as MODEL.BACKBONE.NORM)", "BN", "syncBN"),
        I("MODEL.HEADS.NUM_CLASSES", 0, "identities; 0 = taken from the training set", min: 0),
        I("MODEL.HEADS.EMBEDDING_DIM", 0, "1x1 conv embedding before the neck; 0 = none", min: 0, max: MaxChannels),
        Bo("MODEL.HEADS.WITH_BNNECK", false, "batch-norm neck (bias frozen)"),
        S("MODEL.HEADS.POOL_LAYER", "GlobalAvgPool", "global pooling",
            "GlobalAvgPool", "GlobalMaxPool", "GeneralizedMeanPooling", "GeneralizedMeanPoolingP", "AdaptiveAvgMaxPool"),
        S("MODEL.HEADS.NECK_FEAT", "before", "feature the metric losses (triplet, circle) train on: before = the pooled feature, after = the BN neck's output; evaluation always uses the neck's output", "before", "after"),
        S("MODEL.HEADS.CLS_LAYER", "Linear", "classifier", "Linear", "CosSoftmax", "ArcSoftmax", "CircleSoftmax"),
        F("MODEL.HEADS.MARGIN", 0.0, "classifier margin", range: NonNegative),
        F("MODEL.HEADS.SCALE", 1.0, "classifier scale", range: Positive),
        SL("MODEL.LOSSES.NAME", ["CrossEntropyLoss"], "losses: CrossEntropyLoss, TripletLoss, CircleLoss, Cosface (at least one)", minItems: 1,
            allowed: ["CrossEntropyLoss", "TripletLoss", "CircleLoss", "Cosface"]),
        F("MODEL.LOSSES.CE.EPSILON", 0.0, "label smoothing", range: Fraction),
        F("MODEL.LOSSES.CE.ALPHA", 0.2, "adaptive label smoothing (unused when EPSILON > 0)", range: Fraction),
        F("MODEL.LOSSES.CE.SCALE", 1.0, "weight of the loss", range: NonNegative),
        F("MODEL.LOSSES.FL.ALPHA", 0.25, "focal loss alpha", supported: false),
        F("MODEL.LOSSES.FL.GAMMA", 2.0, "focal loss gamma", supported: false),
        F("MODEL.LOSSES.FL.SCALE", 1.0, "focal loss weight", supported: false),
        F("MODEL.LOSSES.TRI.MARGIN", 0.3, "triplet margin; 0 = soft margin", range: NonNegative),
        Bo("MODEL.LOSSES.TRI.NORM_FEAT", false, "L2-normalise features before the triplet loss"),
        Bo("MODEL.LOSSES.TRI.HARD_MINING", false, "batch-hard mining (else weighted)"),
        F("MODEL.LOSSES.TRI.SCALE", 1.0, "weight of the loss", range: NonNegative),
        F("MODEL.LOSSES.CIRCLE.MARGIN", 0.25, "circle loss margin", range: NonNegative),
        F("MODEL.LOSSES.CIRCLE.GAMMA", 128.0, "circle loss scale", range: Positive),
        F("MODEL.LOSSES.CIRCLE.SCALE", 1.0, "weight of the loss", range: NonNegative),
        F("MODEL.LOSSES.COSFACE.MARGIN", 0.25, "cosface margin", range: NonNegative),
        F("MODEL.LOSSES.COSFACE.GAMMA", 128.0, "cosface scale", range: Positive),
        F("MODEL.LOSSES.COSFACE.SCALE", 1.0, "weight of the loss", range: NonNegative),
        S("MODEL.WEIGHTS", "", "full model weights (.pth or .safetensors) to start from or evaluate"),
        FL("MODEL.PIXEL_MEAN", ImageNetMean, "per-channel mean, RGB 0-255", length: 3),
        FL("MODEL.PIXEL_STD", ImageNetStd, "per-channel std, RGB 0-255", range: Positive, length: 3),

        SL("KD.MODEL_CONFIG", [], "teacher configs (local path or s3://), one per teacher, for Distiller / DistillerOverhaul"),
        SL("KD.MODEL_WEIGHTS", [], "teacher weights (.pth or .safetensors, local path or s3://), one per KD.MODEL_CONFIG entry"),
        SL("KD.MODEL_CONFIG_SHA256", [], "FastReid.K8s extension: sha256 of each KD.MODEL_CONFIG file, checked before training (empty: not checked)"),
        SL("KD.MODEL_WEIGHTS_SHA256", [], "FastReid.K8s extension: sha256 of each KD.MODEL_WEIGHTS file, checked before training (empty: not checked)"),
        F("KD.TEMPERATURE", 16.0, "FastReid.K8s extension: softmax temperature of the KD loss (FastReID fixes 16)", range: Positive),
        F("KD.LOSS_WEIGHT", 1.0, "FastReid.K8s extension: weight of the KD loss (FastReID fixes 1); 0 with DistillerOverhaul is feature-only distillation", range: NonNegative),
        F("KD.OVERHAUL.LOSS_WEIGHT", 1.0, "FastReid.K8s extension: weight of DistillerOverhaul's feature loss (FastReID fixes 1)", range: NonNegative),
        Bo("KD.EMA.ENABLED", false, "self-distillation: an EMA of the student is a teacher too"),
        F("KD.EMA.MOMENTUM", 0.999, "EMA momentum of the self-distillation teacher", range: Fraction),

        IL("INPUT.SIZE_TRAIN", [256, 128], "training size [height, width]", min: MinSide, max: MaxSide, length: 2),
        IL("INPUT.SIZE_TEST", [256, 128], "test size [height, width]", min: MinSide, max: MaxSide, length: 2),
        Bo("INPUT.CROP.ENABLED", false, "random resized crop", supported: false),
        IL("INPUT.CROP.SIZE", [224, 224], "crop size", supported: false, min: MinSide, max: MaxSide, length: 2),
        FL("INPUT.CROP.SCALE", [0.16, 1], "crop scale", supported: false),
        FL("INPUT.CROP.RATIO", [3.0 / 4, 4.0 / 3], "crop ratio", supported: false),
        Bo("INPUT.AUGMIX.ENABLED", false, "AugMix", supported: false),
        F("INPUT.AUGMIX.PROB", 0.0, "AugMix probability", supported: false),
        Bo("INPUT.AUTOAUG.ENABLED", false, "AutoAugment", supported: false),
        F("INPUT.AUTOAUG.PROB", 0.0, "AutoAugment probability", supported: false),
        Bo("INPUT.FLIP.ENABLED", false, "random horizontal flip"),
        F("INPUT.FLIP.PROB", 0.5, "flip probability", range: Fraction),
        Bo("INPUT.PADDING.ENABLED", false, "pad then random crop back to size"),
        S("INPUT.PADDING.MODE", "constant", "padding mode", "constant"),
        I("INPUT.PADDING.SIZE", 10, "padding in pixels", min: 0, max: MaxSide),
        Bo("INPUT.CJ.ENABLED", false, "colour jitter"),
        F("INPUT.CJ.PROB", 0.5, "colour jitter probability", range: Fraction),
        F("INPUT.CJ.BRIGHTNESS", 0.15, "brightness jitter", range: NonNegative),
        F("INPUT.CJ.CONTRAST", 0.15, "contrast jitter", range: NonNegative),
        F("INPUT.CJ.SATURATION", 0.1, "saturation jitter", range: NonNegative),
        F("INPUT.CJ.HUE", 0.1, "hue jitter", range: new(0, 0.5)),
        Bo("INPUT.AFFINE.ENABLED", false, "random affine", supported: false),
        Bo("INPUT.REA.ENABLED", false, "random erasing"),
        F("INPUT.REA.PROB", 0.5, "random erasing probability", range: Fraction),
        FL("INPUT.REA.VALUE", ImageNetMean, "erasing fill value, RGB 0-255", length: 3),
        Bo("INPUT.RPT.ENABLED", false, "random patch", supported: false),
        F("INPUT.RPT.PROB", 0.5, "random patch probability", supported: false),

        SL("DATASETS.NAMES", ["Market1501"], "training datasets"),
        SL("DATASETS.TESTS", ["Market1501"], "test datasets"),
        Bo("DATASETS.COMBINEALL", false, "train on train+query+gallery", supported: false),
        F("DATASETS.VALIDATION.IDENTITY_FRACTION", 0.0, "FastReid.K8s extension: hold out round(fraction x training identities) whole identities (seeded by DATASETS.VALIDATION.SEED, among those seen by 2+ cameras) as a validation split, per identity and camera the first image by file name a query and the rest gallery, and evaluate on it instead of the test set, which is then not read; 0 = off, else below 1. A TuneSweep sets it so trials are never scored on the test set", range: new(0, 1, BelowMax: true)),
        I("DATASETS.VALIDATION.SEED", 0, "FastReid.K8s extension: seed of the held-out identities of DATASETS.VALIDATION.IDENTITY_FRACTION (the same seed holds out the same identities whatever SEED is)"),

        S("DATALOADER.SAMPLER_TRAIN", "TrainingSampler", "training sampler", "TrainingSampler", "NaiveIdentitySampler"),
        I("DATALOADER.NUM_INSTANCE", 4, "images per identity in a batch (K of PxK)", min: 1),
        I("DATALOADER.NUM_WORKERS", 8, "decoding and augmentation threads", min: 0, max: 256),
        FL("DATALOADER.SET_WEIGHT", [], "per-dataset sampling weights", supported: false),

        Bo("SOLVER.AMP.ENABLED", false, "mixed precision (CUDA only; float32 on CPU)"),
        S("SOLVER.OPT", "Adam", "optimizer", "SGD", "Adam", "AdamW"),
        I("SOLVER.MAX_EPOCH", 120, "epochs", min: 1),
        F("SOLVER.BASE_LR", 3e-4, "base learning rate", range: NonNegative),
        F("SOLVER.BIAS_LR_FACTOR", 1.0, "learning-rate factor for biases", range: NonNegative),
        F("SOLVER.HEADS_LR_FACTOR", 1.0, "learning-rate factor for the head", range: NonNegative),
        F("SOLVER.MOMENTUM", 0.9, "SGD momentum", range: NonNegative),
        Bo("SOLVER.NESTEROV", false, "SGD Nesterov"),
        F("SOLVER.WEIGHT_DECAY", 0.0005, "weight decay", range: NonNegative),
        F("SOLVER.WEIGHT_DECAY_NORM", 0.0005, "weight decay of normalisation layers", range: NonNegative),
        F("SOLVER.WEIGHT_DECAY_BIAS", 0.0005, "weight decay of biases", range: NonNegative),
        S("SOLVER.SCHED", "MultiStepLR", "schedule", "MultiStepLR", "CosineAnnealingLR"),
        I("SOLVER.DELAY_EPOCHS", 0, "constant epochs before cosine annealing", min: 0),
        F("SOLVER.ETA_MIN_LR", 1e-7, "final learning rate of cosine annealing", range: NonNegative),
        IL("SOLVER.STEPS", [30, 55], "MultiStepLR milestones (epochs)", min: 0),
        F("SOLVER.GAMMA", 0.1, "MultiStepLR factor", range: NonNegative),
        F("SOLVER.WARMUP_FACTOR", 0.1, "starting factor of warmup", range: Fraction),
        I("SOLVER.WARMUP_ITERS", 1000, "warmup iterations", min: 0),
        S("SOLVER.WARMUP_METHOD", "linear", "warmup shape", "linear", "constant", "exp"),
        I("SOLVER.FREEZE_ITERS", 0, "iterations MODEL.FREEZE_LAYERS stay frozen", min: 0),
        Bo("SOLVER.SWA.ENABLED", false, "stochastic weight averaging", supported: false),
        I("SOLVER.CHECKPOINT_PERIOD", 20, "epochs between checkpoints", min: 0),
        I("SOLVER.IMS_PER_BATCH", 64, "images per batch (all workers together)", min: 2, max: MaxBatch),
        Bo("SOLVER.CLIP_GRADIENTS.ENABLED", false, "gradient clipping"),
        S("SOLVER.CLIP_GRADIENTS.CLIP_TYPE", "norm", "clip by norm or value", "norm", "value"),
        F("SOLVER.CLIP_GRADIENTS.CLIP_VALUE", 5.0, "clip threshold", range: Positive),
        F("SOLVER.CLIP_GRADIENTS.NORM_TYPE", 2.0, "norm type", range: Positive),

        I("TEST.EVAL_PERIOD", 20, "epochs between evaluations", min: 0),
        I("TEST.IMS_PER_BATCH", 64, "images per test batch", min: 1, max: MaxBatch),
        S("TEST.METRIC", "cosine", "distance", "cosine", "euclidean"),
        Bo("TEST.ROC.ENABLED", false, "TPR at fixed FPR"),
        Bo("TEST.FLIP.ENABLED", false, "average the embedding of each image and its mirror"),
        Bo("TEST.AQE.ENABLED", false, "average query expansion"),
        F("TEST.AQE.ALPHA", 3.0, "AQE weight exponent"),
        I("TEST.AQE.QE_TIME", 1, "AQE rounds", min: 0),
        I("TEST.AQE.QE_K", 5, "AQE neighbours", min: 1),
        Bo("TEST.RERANK.ENABLED", false, "k-reciprocal re-ranking"),
        I("TEST.RERANK.K1", 20, "re-ranking k1", min: 1),
        I("TEST.RERANK.K2", 6, "re-ranking k2", min: 1),
        F("TEST.RERANK.LAMBDA", 0.3, "re-ranking lambda", range: Fraction),
        Bo("TEST.PRECISE_BN.ENABLED", false, "precise BN statistics", supported: false),
        S("TEST.PRECISE_BN.DATASET", "Market1501", "precise BN dataset", supported: false),
        I("TEST.PRECISE_BN.NUM_ITER", 300, "precise BN iterations", supported: false),

        S("OUTPUT_DIR", "logs/", "where checkpoints, config.yaml, metrics.json and the final model go"),
        Bo("CUDNN_BENCHMARK", false, "cuDNN autotuning (CUDA only)"),
        I("SEED", -1, "random seed; -1 picks one and logs it", min: -1),
        S("RESUME", "", "FastReid.K8s extension: 'auto' continues from the newest valid checkpoint in OUTPUT_DIR, as --resume does", "", "auto"),
    ];

    private static readonly Dictionary<string, ConfigKey> ByName = Keys.ToDictionary(k => k.Name, StringComparer.Ordinal);

    public static ConfigKey? Find(string name) => ByName.GetValueOrDefault(name);

    /// <summary>The known key closest to a misspelled one (edit distance over the dotted path).</summary>
    public static string Closest(string name)
    {
        var upper = name.ToUpperInvariant();
        return Keys.MinBy(k => EditDistance(k.Name, upper) * 4 + (SameGroup(k.Name, upper) ? 0 : 1))!.Name;
    }

    /// <summary>True when <paramref name="prefix"/> names a group of keys (e.g. MODEL.BACKBONE).</summary>
    public static bool IsGroup(string prefix) =>
        Keys.Any(k => k.Name.StartsWith(prefix + ".", StringComparison.Ordinal));

    private static bool SameGroup(string a, string b) =>
        a.LastIndexOf('.') is var i && b.LastIndexOf('.') is var j && i == j && i > 0 && a.AsSpan(0, i).SequenceEqual(b.AsSpan(0, j));

    /// <summary>Levenshtein distance, for "did you mean" suggestions.</summary>
    public static int EditDistance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    private static ConfigKey S(string name, string def, string help, params string[] allowed) =>
        new(name, ConfigValueKind.String, def, help, true, allowed.Length == 0 ? null : allowed);
    private static ConfigKey S(string name, string def, string help, bool supported) =>
        new(name, ConfigValueKind.String, def, help, supported);
    private static ConfigKey I(string name, long def, string help, bool supported = true, long min = int.MinValue, long max = int.MaxValue) =>
        new(name, ConfigValueKind.Int, def, help, supported) { Range = new ValueRange(min, max) };
    private static ConfigKey F(string name, double def, string help, bool supported = true, ValueRange? range = null) =>
        new(name, ConfigValueKind.Float, def, help, supported) { Range = range };
    private static ConfigKey Bo(string name, bool def, string help, bool supported = true) =>
        new(name, ConfigValueKind.Bool, def, help, supported);
    private static ConfigKey SL(string name, string[] def, string help, bool supported = true, int minItems = 0, string[]? allowed = null) =>
        new(name, ConfigValueKind.StringList, def, help, supported, allowed) { MinItems = minItems };
    private static ConfigKey IL(string name, long[] def, string help, bool supported = true, long min = int.MinValue, long max = int.MaxValue, int? length = null) =>
        new(name, ConfigValueKind.IntList, def, help, supported) { Range = new ValueRange(min, max), Length = length };
    private static ConfigKey FL(string name, double[] def, string help, bool supported = true, ValueRange? range = null, int? length = null) =>
        new(name, ConfigValueKind.FloatList, def, help, supported) { Range = range, Length = length };

    // The stated limits. Sides: FastReID's recipes use at most 384 (persons) and 256 (vehicles); far larger inputs
    // fail to allocate (a 30000 x 30000 bitmap) or exhaust memory, so they are refused when the config is read.
    /// <summary>The smallest and largest height or width of INPUT.SIZE_TRAIN / INPUT.SIZE_TEST (and padding).</summary>
    public const int MinSide = 16, MaxSide = 1024;
    /// <summary>The largest SOLVER.IMS_PER_BATCH / TEST.IMS_PER_BATCH.</summary>
    public const int MaxBatch = 4096;
    /// <summary>The largest MODEL.BACKBONE.FEAT_DIM / MODEL.HEADS.EMBEDDING_DIM (ResNet-101 at width 4 has 8192).</summary>
    public const int MaxChannels = 65536;
}
