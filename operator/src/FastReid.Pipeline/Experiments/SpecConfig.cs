using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;

namespace FastReid.Pipeline.Experiments;

/// <summary>
/// <c>spec.config</c> against the FastReID config schema the trainer reads, and the effective config a run
/// trains with: FastReID's defaults, then <c>spec.config</c>, then what the operator owns — OUTPUT_DIR (from
/// the output URI), RESUME auto (a retried pod continues from its run's newest verified checkpoint; the pod's
/// FASTREID_RUN_ID keeps it from resuming an older spec's), DATASETS.NAMES/TESTS (from <c>spec.dataset</c>)
/// and MODEL.DEVICE (from the GPU count) unless the config sets the latter two.
/// </summary>
public static class SpecConfig
{
    /// <summary>Every problem in <paramref name="config"/>, each named <c>{path}.KEY</c> with the closest valid key.</summary>
    public static IReadOnlyList<FieldError> Validate(JsonObject config, string path)
    {
        var errors = new List<FieldError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, leaf) in Leaves(config, ""))
        {
            if (key == ConfigTree.BaseKey)
            {
                errors.Add(new FieldError($"{path}.{key}", "is not supported in a resource (there is no file to inherit from); write the keys out"));
                continue;
            }
            try
            {
                FastReidConfig.Defaults().MergeTree(Nested(key, leaf), path);
            }
            catch (ConfigException e)
            {
                var field = $"{path}.{e.Key ?? key}";
                var message = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message;
                if (seen.Add(field + "\n" + message)) errors.Add(new FieldError(field, message));
            }
        }
        return errors;
    }

    /// <summary>The run's config, or null (with errors added) when <c>spec.config</c> does not load.</summary>
    public static FastReidConfig? Effective(ReidExperimentSpec spec, string outputUri, string specPath, List<FieldError> errors)
    {
        var config = FastReidConfig.Defaults();
        var tree = spec.Config ?? [];
        try
        {
            config.MergeTree(ConfigTree.FromJson(tree, $"{specPath}.config"), $"{specPath}.config");
        }
        catch (ConfigException e)
        {
            errors.Add(new FieldError($"{specPath}.config{(e.Key is null ? "" : "." + e.Key)}", e.Message));
            return null;
        }
        // a pvc:// output is written at its claim's mount in the pod (ClaimMounts)
        var outputDir = ClaimMounts.PodPath(outputUri);
        if (Sets(tree, "OUTPUT_DIR") && config.String("OUTPUT_DIR") is var set && set != outputUri && set != outputDir)
        {
            errors.Add(new FieldError($"{specPath}.config.OUTPUT_DIR", $"is set by {specPath}.output.uri ('{outputUri}'); remove it from the config"));
            return null;
        }
        config.SetValue("OUTPUT_DIR", outputDir);
        if (Sets(tree, "RESUME") && config.String("RESUME") != "auto")
        {
            errors.Add(new FieldError($"{specPath}.config.RESUME", "is set by the operator to 'auto' (a retried pod resumes from its run's newest checkpoint); remove it from the config"));
            return null;
        }
        config.SetValue("RESUME", "auto");
        // A synthetic set is written in the Market-1501 layout.
        var dataset = spec.Dataset.Name == "Synthetic" ? "Market1501" : spec.Dataset.Name;
        if (!Sets(tree, "DATASETS.NAMES")) config.SetValue("DATASETS.NAMES", new[] { dataset });
        if (!Sets(tree, "DATASETS.TESTS")) config.SetValue("DATASETS.TESTS", new[] { dataset });
        if (!Sets(tree, "MODEL.DEVICE")) config.SetValue("MODEL.DEVICE", spec.Resources.GpusPerNode > 0 ? "cuda" : "cpu");
        return config;
    }

    /// <summary>The config keys that name files the trainer reads (FastReID's and the KD teachers').</summary>
    public static readonly IReadOnlyList<string> ReadPathKeys = ["MODEL.WEIGHTS", "MODEL.BACKBONE.PRETRAIN_PATH", "KD.MODEL_CONFIG", "KD.MODEL_WEIGHTS"];

    /// <summary>
    /// Puts the pod's path in place of each pvc:// URI in <see cref="ReadPathKeys"/> (a DistillJob's teachers on a claim,
    /// MODEL.WEIGHTS on one) and returns those URIs, whose claims the pod mounts read-only; a malformed one is an error
    /// naming its key. Other values (s3://, a path in the image) are left as they are.
    /// </summary>
    public static List<string> MountReadPaths(FastReidConfig config, string specPath, List<FieldError> errors)
    {
        var uris = new List<string>();
        string Mapped(string key, string value)
        {
            if (!value.StartsWith(StorageLocation.PvcScheme, StringComparison.Ordinal)) return value;
            if (StorageLocation.TryParse(value, out var error) is null)
            {
                errors.Add(new FieldError($"{specPath}.config.{key}", error!));
                return value;
            }
            uris.Add(value);
            return ClaimMounts.PodPath(value);
        }
        foreach (var key in ReadPathKeys)
        {
            switch (config[key])
            {
                case string value when value.Length > 0:
                    config.SetValue(key, Mapped(key, value));
                    break;
                case string[] values when values.Length > 0:
                    config.SetValue(key, values.Select(v => Mapped(key, v)).ToArray());
                    break;
            }
        }
        return uris;
    }

    /// <summary>True when the tree sets a key, nested (<c>MODEL: {DEVICE: ..}</c>) or dotted (<c>MODEL.DEVICE: ..</c>).</summary>
    public static bool Sets(JsonObject tree, string key)
    {
        if (tree.ContainsKey(key)) return true;
        for (int dot = key.IndexOf('.'); dot > 0; dot = key.IndexOf('.', dot + 1))
            if (tree[key[..dot]] is JsonObject child && Sets(child, key[(dot + 1)..])) return true;
        return false;
    }

    /// <summary>
    /// Sets a key in a config tree, nested inside the groups the tree already has (<c>KD: {TEMPERATURE: ..}</c>);
    /// any other spelling of it (dotted, <c>KD.TEMPERATURE: ..</c>) is removed first, so one value remains.
    /// </summary>
    public static void Set(JsonObject tree, string key, JsonNode? value)
    {
        Remove(tree, key);
        var parts = key.Split('.');
        var node = tree;
        foreach (var part in parts[..^1])
        {
            if (node[part] is not JsonObject group)
            {
                group = new JsonObject();
                node[part] = group;
            }
            node = group;
        }
        node[parts[^1]] = value;
    }

    /// <summary>Removes a key from a config tree, however it is spelled there (nested, dotted, or both).</summary>
    public static void Remove(JsonObject tree, string key)
    {
        tree.Remove(key);
        for (int dot = key.IndexOf('.'); dot > 0; dot = key.IndexOf('.', dot + 1))
            if (tree[key[..dot]] is JsonObject child) Remove(child, key[(dot + 1)..]);
    }

    /// <summary>Each value in the tree with its dotted key; empty mappings count as values so unknown groups are named.</summary>
    private static IEnumerable<(string Key, JsonNode? Value)> Leaves(JsonObject tree, string prefix)
    {
        foreach (var (name, value) in tree)
        {
            var key = prefix + name;
            if (value is JsonObject { Count: > 0 } child && ConfigSchema.Find(key) is null && ConfigSchema.IsGroup(key))
                foreach (var leaf in Leaves(child, key + ".")) yield return leaf;
            else
                yield return (key, value);
        }
    }

    private static IReadOnlyDictionary<string, object?> Nested(string key, JsonNode? value) =>
        ConfigTree.FromJson(new JsonObject { [key] = value?.DeepClone() }, "spec.config");
}
