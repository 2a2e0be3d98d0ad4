namespace FastReid.Pipeline.Tune;

/// <summary>
/// Grid search: every combination of the dimensions' values, trial n the n-th combination in mixed-radix order
/// (the last dimension, in ordinal key order, varies fastest). Discrete dimensions (choice, randint, quniform,
/// fixed) contribute each of their values; continuous ones (uniform, loguniform) <c>gridPoints</c> values evenly
/// spaced from min to max (in log space for loguniform). Exhausted once every combination has started.
/// </summary>
public sealed class GridSearch : ISearchAlgorithm
{
    private readonly SearchSpace _space;
    private readonly double[][] _axes;

    public GridSearch(SearchSpace space, int gridPoints)
    {
        _space = space;
        _axes = [.. space.Dimensions.Select(d => d.Cardinality is { } n
            ? Enumerable.Range(0, n).Select(i => (i + 0.5) / n).ToArray()
            : Enumerable.Range(0, gridPoints).Select(i => (double)i / (gridPoints - 1)).ToArray())];
        long size = 1;
        foreach (var axis in _axes) size = size > long.MaxValue / axis.Length ? long.MaxValue : size * axis.Length;
        Size = size;
    }

    public string Name => "grid";
    public bool UsesBudget => false;

    /// <summary>Number of combinations (long.MaxValue when it would overflow).</summary>
    public long Size { get; }

    /// <summary>The <paramref name="index"/>-th combination.</summary>
    public TrialParams At(long index)
    {
        var point = new double[_axes.Length];
        for (int d = _axes.Length - 1; d >= 0; d--)
        {
            point[d] = _axes[d][index % _axes[d].Length];
            index /= _axes[d].Length;
        }
        return _space.Decode(point);
    }

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        long remaining = Size - trials.Count;
        int n = (int)Math.Max(0, Math.Min(remaining, Math.Min(context.Slots, context.TrialsLeft)));
        var start = Enumerable.Range(0, n).Select(i => new Suggestion(At(trials.Count + i), 0, 0)).ToList();
        return new SearchStep(start, [], [], Exhausted: trials.Count + n >= Size);
    }
}
