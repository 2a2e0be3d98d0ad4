using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Experiments;

/// <summary>Status copies: planners never mutate the status they were given.</summary>
public static class ExperimentStatus
{
    public static ReidExperimentStatus Copy(ReidExperimentStatus status) => StatusUpdates.Copy(status);

    /// <summary>A new run starts clean: no phase, times, metrics or conditions of the run it replaces.</summary>
    public static ReidExperimentStatus ForNewRun(ReidExperimentStatus previous) => new()
    {
        Conditions = previous.Conditions?.Where(c => c.Type == ConditionTypes.InvalidSpec).ToList(),
    };

    /// <summary>True when writing <paramref name="next"/> would change what the API server holds.</summary>
    public static bool Differs(ReidExperimentStatus? current, ReidExperimentStatus next) => StatusUpdates.Differs(current, next);
}
