using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline;

/// <summary>
/// A trained model a resource reads (an ExportJob's source, a DistillJob's teacher): its weights and config,
/// their sha256 digests where the experiment that trained it reported them, and its test-set metrics.
/// </summary>
public sealed record ResolvedModel(string? Experiment, string Model, string Config, string? ModelSha256, string? ConfigSha256, ReidMetrics? Metrics);

/// <summary>
/// What a <see cref="ModelSource"/> stands for now: <see cref="Model"/> when it can be read, else why not.
/// <see cref="State"/> is one of the <see cref="ModelSources"/> states, which callers prefix into a reason
/// (<c>SourceNotFound</c>, <c>TeacherFailed</c>); <see cref="Message"/> names the experiment.
/// </summary>
public sealed record ModelSourceLook(string State, string Message, ResolvedModel? Model)
{
    public bool Failed => State == ModelSources.Failed;
}

/// <summary>Resolves a <see cref="ModelSource"/> against the ReidExperiment it names (null when that does not exist).</summary>
public static class ModelSources
{
    public const string Given = "Given";
    public const string Succeeded = "Succeeded";
    public const string NotFound = "NotFound";
    public const string NotReady = "NotReady";
    public const string ArtefactsMissing = "ArtefactsMissing";
    public const string Failed = "Failed";

    public static ModelSourceLook Look(ModelSource source, ReidExperiment? experiment, string ns)
    {
        if (source.ExperimentRef is not { } reference)
            return new(Given, $"{source.ModelUri} with {source.ConfigUri}", new ResolvedModel(null, source.ModelUri ?? "", source.ConfigUri ?? "", null, null, null));
        var name = reference.Name;
        if (experiment is null)
            return new(NotFound, $"ReidExperiment {name} does not exist in namespace {ns} (yet)", null);
        var status = experiment.Status;
        if (status?.Phase == Phases.Failed)
        {
            var why = Conditions.Find(status.Conditions, ConditionTypes.Failed)?.Message
                ?? Conditions.Find(status.Conditions, ConditionTypes.InvalidSpec)?.Message;
            return new(Failed, $"ReidExperiment {name} failed{(why is null ? "" : ": " + why)}", null);
        }
        if (status?.Phase != Phases.Succeeded)
            return new(NotReady, $"ReidExperiment {name} is {status?.Phase ?? "not started"}", null);
        if (status.Artefacts is not { Model: { } model, Config: { } config } artefacts)
            return new(ArtefactsMissing, $"ReidExperiment {name} succeeded but its status names no {(status.Artefacts?.Model is null ? "artefacts.model" : "artefacts.config")}", null);
        return new(Succeeded, $"ReidExperiment {name} succeeded: {model}",
            new ResolvedModel(name, model, config, Digest(artefacts, model), Digest(artefacts, config), status.Metrics));
    }

    /// <summary>The digest the trainer reported for the file a URI names: its result keys sha256 by file name (model_final.pth, config.yaml).</summary>
    private static string? Digest(ArtefactsStatus artefacts, string uri) =>
        artefacts.Sha256?.GetValueOrDefault(uri[(uri.LastIndexOf('/') + 1)..]);
}
