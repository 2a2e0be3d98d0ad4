using System.Globalization;
using System.Reflection;
using FastReid.Api.V1Alpha1;
using FastReid.Config;

namespace FastReid.Pipeline.Tune;

/// <summary>
/// Builds a sweep's algorithm from <c>spec.algorithm</c> and its search space, checking the algorithm's settings:
/// a setting that is unknown, belongs to another algorithm, is out of range or contradicts another is an error at
/// <c>spec.algorithm.settings.NAME</c>, and a multi-fidelity algorithm without <c>spec.budget</c> is an error at
/// <c>spec.budget</c>. Defaults (documented on <see cref="AlgorithmSettings"/>) fill what the spec leaves out.
/// </summary>
public static class SearchAlgorithms
{
    private const string Path = "spec.algorithm.settings";

    /// <summary>The settings each algorithm reads (JSON names), in the order its error messages list them.</summary>
    public static IReadOnlyDictionary<string, string[]> SettingsOf { get; } = new Dictionary<string, string[]>
    {
        ["random"] = ["medianStopping"],
        ["median"] = ["medianStopping"],
        ["grid"] = ["gridPoints", "medianStopping"],
        ["tpe"] = ["startupTrials", "gamma", "candidates", "medianStopping"],
        ["hyperband"] = ["eta", "minBudget", "maxBudget", "medianStopping"],
        ["bohb"] = ["eta", "minBudget", "maxBudget", "randomFraction", "topNPercent", "bandwidthFactor", "minBandwidth", "numSamples", "minPointsInModel", "medianStopping"],
        ["asha"] = ["eta", "minBudget", "maxBudget", "medianStopping"],
        ["dehb"] = ["eta", "minBudget", "maxBudget", "mutationFactor", "crossoverProb", "medianStopping"],
    };

    /// <summary>Whether the algorithm gives each trial its budget (and so needs <c>spec.budget</c>).</summary>
    public static bool IsMultiFidelity(string name) => name is "hyperband" or "bohb" or "asha" or "dehb";

    /// <summary>The algorithm, or null with the problems added to <paramref name="errors"/>.</summary>
    public static ISearchAlgorithm? Create(TuneSweepSpec spec, SearchSpace space, List<FieldError> errors)
    {
        var algorithm = spec.Algorithm;
        var settings = algorithm.Settings ?? new AlgorithmSettings();
        if (!SettingsOf.TryGetValue(algorithm.Name, out var allowed))
        {
            errors.Add(new("spec.algorithm.name", $"must be one of {string.Join(", ", SettingsOf.Keys)}; got '{algorithm.Name}'"));
            return null;
        }
        var found = new List<FieldError>();
        CheckNames(algorithm.Name, settings, allowed, found);
        // The schema's ranges: Validation.Validate reports them too, so add only the ones not there yet.
        Validation.CheckAttributes(settings, Path, found);
        bool integerBudget = false;
        if (IsMultiFidelity(algorithm.Name))
        {
            if (spec.Budget is not { } budget)
                found.Add(new("spec.budget", $"{algorithm.Name} gives each trial its budget, so it needs spec.budget.key (e.g. SOLVER.MAX_EPOCH)"));
            else if (ConfigSchema.Find(budget.Key) is not { } key)
                found.Add(new("spec.budget.key", $"'{budget.Key}' is not a FastReID config key (closest: {ConfigSchema.Closest(budget.Key)})"));
            else if (key.Kind is not (ConfigValueKind.Int or ConfigValueKind.Float))
                found.Add(new("spec.budget.key", $"{budget.Key} is a {key.Kind} key; a budget needs a number key such as SOLVER.MAX_EPOCH"));
            else
                integerBudget = key.Kind == ConfigValueKind.Int;
            double min = settings.MinBudget ?? 1, max = settings.MaxBudget ?? 9;
            if (min >= max)
                found.Add(new($"{Path}.maxBudget", $"must be greater than minBudget ({Format(min)}), got {Format(max)}"));
            else if (integerBudget && min > 0 && algorithm.Name != "asha" && settings.Eta is null or (>= 2 and <= 100)
                && new HyperbandSchedule(min, max, settings.Eta ?? 3, true).Ladder is var ladder && ladder.Distinct().Count() < ladder.Count)
                found.Add(new($"{Path}.minBudget", $"{spec.Budget!.Key} takes whole numbers, and the budgets {string.Join(", ", ladder.Select(Format))} repeat once rounded; raise minBudget or lower eta"));
        }
        int dims = space.Dimensions.Count(d => d.Kind != DimensionKind.Fixed);
        if (settings.MinPointsInModel is { } points && points < dims + 1)
            found.Add(new($"{Path}.minPointsInModel", $"must be at least the number of searched dimensions + 1 ({dims + 1}), got {points}"));

        foreach (var e in found)
            if (!errors.Contains(e)) errors.Add(e);
        if (found.Count > 0) return null;

        int seed = algorithm.Seed;
        var schedule = IsMultiFidelity(algorithm.Name) ? new HyperbandSchedule(settings.MinBudget ?? 1, settings.MaxBudget ?? 9, settings.Eta ?? 3, integerBudget) : null;
        ISearchAlgorithm search = algorithm.Name switch
        {
            "grid" => new GridSearch(space, settings.GridPoints ?? 3),
            // gamma 0.1 of n as Optuna (hyperopt's 0.25 is of sqrt(n)): 0.25 n kept l(x) too wide to refine in 6-d (bench tune).
            "tpe" => new TreeParzenSearch(space, seed, settings.StartupTrials ?? 10, settings.Gamma ?? 0.1, settings.Candidates ?? 24),
            "hyperband" => new HyperbandSearch(space, seed, schedule!),
            "bohb" => new BohbSearch(space, seed, schedule!, new BohbSettings(
                settings.RandomFraction ?? 1.0 / 3, settings.TopNPercent ?? 15, settings.BandwidthFactor ?? 3,
                settings.MinBandwidth ?? 1e-3, settings.NumSamples ?? 64, settings.MinPointsInModel ?? dims + 1)),
            "dehb" => new DehbSearch(space, seed, schedule!, settings.MutationFactor ?? 0.5, settings.CrossoverProb ?? 0.5),
            "asha" => new AshaSearch(space, seed, settings.MinBudget ?? 1, settings.MaxBudget ?? 9, settings.Eta ?? 3, integerBudget),
            _ => new RandomSearch(space, seed),
        };
        if (settings.MedianStopping is not null || algorithm.Name == "median")
        {
            var m = settings.MedianStopping ?? new MedianStoppingSettings();
            search = new MedianStopping(search, m.GracePeriod ?? 1, m.MinTrials ?? 3, algorithm.Name == "median" ? "median" : null);
        }
        return search;
    }

    /// <summary>Unknown and inapplicable settings, named with what the algorithm does take.</summary>
    private static void CheckNames(string algorithm, AlgorithmSettings settings, string[] allowed, List<FieldError> errors)
    {
        string takes = $"its settings are {string.Join(", ", allowed)}";
        foreach (var name in (settings.Unknown ?? []).Keys.Order(StringComparer.Ordinal))
            errors.Add(new($"{Path}.{name}", $"{name} is not a setting of {algorithm}{Hint(name, allowed)}; {takes}"));
        foreach (var property in typeof(AlgorithmSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var name = ApiJson.NameOf(property);
            if (name == "unknown" || property.GetValue(settings) is null || allowed.Contains(name)) continue;
            var owners = SettingsOf.Where(kv => kv.Value.Contains(name)).Select(kv => kv.Key);
            errors.Add(new($"{Path}.{name}", $"{name} is a setting of {string.Join(", ", owners)}, not of {algorithm}; {takes}"));
        }
        if (settings.MedianStopping?.Unknown is { } unknown)
            foreach (var name in unknown.Keys.Order(StringComparer.Ordinal))
                errors.Add(new($"{Path}.medianStopping.{name}", $"{name} is not a setting of medianStopping{Hint(name, ["gracePeriod", "minTrials"])}; its settings are gracePeriod, minTrials"));
    }

    private static string Hint(string name, string[] names)
    {
        var closest = names.MinBy(n => ConfigSchema.EditDistance(n.ToUpperInvariant(), name.ToUpperInvariant()));
        return closest is not null && ConfigSchema.EditDistance(closest.ToUpperInvariant(), name.ToUpperInvariant()) <= Math.Max(2, name.Length / 3)
            ? $" (did you mean {closest}?)" : "";
    }

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
