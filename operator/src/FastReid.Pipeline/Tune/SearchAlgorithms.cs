using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Tune;

/// <summary>
/// Builds a sweep's algorithm from <c>spec.algorithm</c> and its search space, checking the algorithm's settings
/// (an unknown or out-of-range setting is an error naming it).
/// </summary>
public static class SearchAlgorithms
{
    /// <summary>The algorithm, or null with the problems added to <paramref name="errors"/> (under <c>spec.algorithm</c>).</summary>
    public static ISearchAlgorithm? Create(TuneSweepSpec spec, SearchSpace space, List<FieldError> errors)
    {
        var algorithm = spec.Algorithm;
        switch (algorithm.Name)
        {
            case "random":
                foreach (var (name, _) in algorithm.Settings ?? [])
                    errors.Add(new($"spec.algorithm.settings.{name}", "random search has no settings"));
                return errors.Count > 0 ? null : new RandomSearch(space, algorithm.Seed);
            default:
                errors.Add(new("spec.algorithm.name", $"'{algorithm.Name}' is not implemented yet"));
                return null;
        }
    }
}
