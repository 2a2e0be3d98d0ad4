using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline;

/// <summary>Operator-wide settings the planners apply where a spec leaves something open.</summary>
public sealed record PlannerOptions
{
    /// <summary>Trainer image when <c>spec.resources.image</c> is empty.</summary>
    public string TrainerImage { get; init; } = "fastreid-trainer:latest";

    /// <summary>
    /// Storage for experiments without <c>spec.output</c>: its URI is a prefix, the experiment writes to
    /// <c>{uri}/{namespace}/{name}</c>. Null: such experiments are invalid.
    /// </summary>
    public OutputSpec? DefaultStorage { get; init; }

    /// <summary>
    /// The output a resource writes to: its own, or the default storage under <c>{uri}/{namespace}/{name}</c>;
    /// null (with an error naming <c>spec.output</c>) when it has none and there is no default.
    /// </summary>
    public OutputSpec? ResolveOutput(OutputSpec? output, string ns, string name, List<FieldError> errors)
    {
        if (output is not null) return output;
        if (DefaultStorage is { } storage)
        {
            return new OutputSpec
            {
                Uri = $"{storage.Uri.TrimEnd('/')}/{ns}/{name}",
                Endpoint = storage.Endpoint,
                Region = storage.Region,
                SecretRef = storage.SecretRef,
            };
        }
        errors.Add(new FieldError("spec.output", "is required: the operator has no default storage (--default-storage)"));
        return null;
    }

    /// <summary>
    /// Where the planned pods run: false on a cluster, where a URI may not be a local path (a pod has none of this
    /// machine's folders); true on one machine (<c>fastreid pipeline run</c>), where it may not be a <c>pvc://</c> claim.
    /// </summary>
    public bool OneMachine { get; init; }

    /// <summary>The location rule of <see cref="OneMachine"/> for one URI field.</summary>
    public void CheckLocation(string? uri, string path, List<FieldError> errors)
    {
        if (OneMachine) Validation.CheckLocalLocation(uri, path, errors);
        else Validation.CheckClusterLocation(uri, path, errors);
    }

    /// <summary>The location rule of <see cref="OneMachine"/> for an experiment's dataset and output.</summary>
    public void CheckLocations(ReidExperimentSpec spec, string path, List<FieldError> errors)
    {
        if (OneMachine) Validation.CheckLocalLocations(spec, path, errors);
        else Validation.CheckClusterLocations(spec, path, errors);
    }

    /// <summary>The location rule of <see cref="OneMachine"/> for a teacher's or an export's source.</summary>
    public void CheckLocations(ModelSource source, string path, List<FieldError> errors)
    {
        if (OneMachine) Validation.CheckLocalLocations(source, path, errors);
        else Validation.CheckClusterLocations(source, path, errors);
    }

    /// <summary>Port of the rank-0 rendezvous (torch.distributed MASTER_PORT).</summary>
    public int MasterPort { get; init; } = 29500;

    /// <summary>
    /// Port of the trainer's Prometheus page (<c>fastreid train --metrics-port</c>), served by rank 0 and read by the
    /// operator into <c>status.progress</c>; 0 turns both off.
    /// </summary>
    public int TrainerMetricsPort { get; init; } = 9400;

    /// <summary>How often a running experiment's progress is read at most (and looked at again to read it).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Seconds a run's pod may stay stuck (a blocking waiting or scheduling reason) before the run fails, when
    /// <c>spec.runPolicy.pendingDeadlineSeconds</c> is absent; 0 never fails.
    /// </summary>
    public long PendingDeadlineSeconds { get; init; } = 600;

    /// <summary>The pending deadline of a run: its own, else the operator's; null when it is 0 (never).</summary>
    public TimeSpan? PendingDeadline(RunPolicy? policy) =>
        (policy?.PendingDeadlineSeconds ?? PendingDeadlineSeconds) is > 0 and var seconds ? TimeSpan.FromSeconds(seconds) : null;

    /// <summary>The trainer executable on the image's PATH.</summary>
    public string TrainerCommand { get; init; } = "fastreid";

    /// <summary>
    /// Validates <c>spec.config</c> (FastReID key names and types); errors name the key path under the given prefix.
    /// The shared FastReID config schema by default.
    /// </summary>
    public Func<JsonObject, string, IReadOnlyList<FieldError>> ValidateConfig { get; init; } = Experiments.SpecConfig.Validate;
}
