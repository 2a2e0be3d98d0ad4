using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Experiments;

/// <summary>
/// The FastReID config a run trains with: <c>spec.config</c> plus what the operator owns — the dataset names
/// (from <c>spec.dataset</c>), OUTPUT_DIR (from the output URI) and MODEL.DEVICE (from the GPU count).
/// </summary>
public static class EffectiveConfig
{
    public static JsonObject Build(ReidExperimentSpec spec, string outputUri, string specPath, List<FieldError> errors)
    {
        var config = spec.Config?.DeepClone().AsObject() ?? [];

        if (config["OUTPUT_DIR"] is JsonNode given && given.ToString() != outputUri)
            errors.Add(new($"{specPath}.config.OUTPUT_DIR", $"is set by {specPath}.output.uri ('{outputUri}'); remove it from the config"));
        config["OUTPUT_DIR"] = outputUri;

        var datasets = Section(config, "DATASETS", specPath, errors);
        if (datasets is not null)
        {
            datasets["NAMES"] ??= new JsonArray(spec.Dataset.Name);
            datasets["TESTS"] ??= new JsonArray(spec.Dataset.Name);
        }

        var model = Section(config, "MODEL", specPath, errors);
        if (model is not null && model["DEVICE"] is null)
            model["DEVICE"] = spec.Resources.GpusPerNode > 0 ? "cuda" : "cpu";
        return config;
    }

    private static JsonObject? Section(JsonObject config, string key, string specPath, List<FieldError> errors)
    {
        switch (config[key])
        {
            case null:
                var created = new JsonObject();
                config[key] = created;
                return created;
            case JsonObject existing:
                return existing;
            default:
                errors.Add(new($"{specPath}.config.{key}", "must be a mapping of FastReID keys"));
                return null;
        }
    }
}
