namespace FastReid.Config;

/// <summary>
/// What a config must satisfy before a command reads or syncs any data, writes any output or calls into torch: the
/// rules that span keys and the local files the config names (one key's own limits are checked when it is read,
/// <see cref="ConfigSchema"/>). Each is a <see cref="ConfigException"/>, the usage exit code, so a Job never retries a
/// config that cannot run and never downloads a dataset for it.
/// </summary>
public static class ConfigPreflight
{
    /// <summary>A training run of <paramref name="worldSize"/> ranks (train, bench train).</summary>
    public static void ForTraining(FastReidConfig cfg, int worldSize = 1)
    {
        if (cfg.Strings("DATASETS.NAMES").Length == 0)
            throw new ConfigException("DATASETS.NAMES is empty: name at least one training dataset", "DATASETS.NAMES");
        int batch = cfg.Int("SOLVER.IMS_PER_BATCH");
        bool identitySampler = cfg.String("DATALOADER.SAMPLER_TRAIN") == "NaiveIdentitySampler";
        int k = cfg.Int("DATALOADER.NUM_INSTANCE");
        if (identitySampler && batch % k != 0)
            throw new ConfigException($"SOLVER.IMS_PER_BATCH ({batch}) must be a multiple of DATALOADER.NUM_INSTANCE ({k}) with the NaiveIdentitySampler",
                "SOLVER.IMS_PER_BATCH");
        // IMS_PER_BATCH is the global batch, as in FastReID: each rank takes an equal, contiguous slice of it, and with
        // the identity sampler a slice holds whole identities (K images each)
        if (worldSize > 1 && batch % worldSize != 0)
            throw new ConfigException($"SOLVER.IMS_PER_BATCH ({batch}) is the global batch and must divide evenly over WORLD_SIZE {worldSize} ranks",
                "SOLVER.IMS_PER_BATCH");
        if (worldSize > 1 && identitySampler && batch / worldSize % k != 0)
            throw new ConfigException($"SOLVER.IMS_PER_BATCH ({batch}) over WORLD_SIZE {worldSize} gives {batch / worldSize} images per rank, " +
                $"not a multiple of DATALOADER.NUM_INSTANCE ({k}): an identity's images would be split across ranks", "SOLVER.IMS_PER_BATCH");
        if (cfg.String("MODEL.WEIGHTS").Length > 0)
        {
            LocalFileExists(cfg, "MODEL.WEIGHTS");
        }
        else if (cfg.Bool("MODEL.BACKBONE.PRETRAIN"))
        {
            PretrainPathGiven(cfg);
            LocalFileExists(cfg, "MODEL.BACKBONE.PRETRAIN_PATH");
        }
    }

    /// <summary>MODEL.BACKBONE.PRETRAIN True needs the weights named: this trainer never downloads any.</summary>
    public static void PretrainPathGiven(FastReidConfig cfg)
    {
        if (cfg.String("MODEL.BACKBONE.PRETRAIN_PATH").Length == 0)
            throw new ConfigException(
                "MODEL.BACKBONE.PRETRAIN is True but MODEL.BACKBONE.PRETRAIN_PATH is empty: this trainer never downloads weights; " +
                "give torchvision ImageNet weights for the backbone (.pth or .safetensors) or set MODEL.BACKBONE.PRETRAIN False",
                "MODEL.BACKBONE.PRETRAIN_PATH");
    }

    /// <summary>A model that embeds, evaluates or exports: the trained weights of MODEL.WEIGHTS.</summary>
    public static void ForInference(FastReidConfig cfg)
    {
        if (cfg.String("MODEL.WEIGHTS").Length == 0)
            throw new ConfigException("MODEL.WEIGHTS is empty: give the trained weights (e.g. OUTPUT_DIR/model_final.pth) as MODEL.WEIGHTS PATH", "MODEL.WEIGHTS");
        LocalFileExists(cfg, "MODEL.WEIGHTS");
    }

    /// <summary>A local path the key names must be a file; an s3:// URI is read (and its absence reported) when it is used.</summary>
    private static void LocalFileExists(FastReidConfig cfg, string key)
    {
        var path = cfg.String(key);
        if (path.StartsWith("s3://", StringComparison.Ordinal) || File.Exists(path)) return;
        throw new ConfigException(Directory.Exists(path)
            ? $"{key}: '{path}' is a folder, not a weights file (.pth or .safetensors)"
            : $"{key}: weights file '{path}' does not exist", key);
    }
}
