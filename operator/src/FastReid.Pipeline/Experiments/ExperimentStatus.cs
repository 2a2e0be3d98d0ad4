using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Experiments;

/// <summary>Status copies: planners never mutate the status they were given.</summary>
public static class ExperimentStatus
{
    public static ReidExperimentStatus Copy(ReidExperimentStatus status) => StatusUpdates.Copy(status);

    /// <summary>True when writing <paramref name="next"/> would change what the API server holds.</summary>
    public static bool Differs(ReidExperimentStatus? current, ReidExperimentStatus next) => StatusUpdates.Differs(current, next);
}
