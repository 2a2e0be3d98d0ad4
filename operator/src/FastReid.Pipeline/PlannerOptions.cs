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

    /// <summary>Port of the rank-0 rendezvous (torch.distributed MASTER_PORT).</summary>
    public int MasterPort { get; init; } = 29500;

    /// <summary>The trainer executable on the image's PATH.</summary>
    public string TrainerCommand { get; init; } = "fastreid";

    /// <summary>
    /// Validates <c>spec.config</c> (FastReID key names and types); errors name the key path under the given prefix.
    /// The shared FastReID config schema by default.
    /// </summary>
    public Func<JsonObject, string, IReadOnlyList<FieldError>> ValidateConfig { get; init; } = Experiments.SpecConfig.Validate;
}
