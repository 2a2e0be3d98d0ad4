using FastReid.Config;

namespace FastReid.Engine;

/// <summary>
/// How long a run trains, read from the config key that carries the budget (<see cref="BudgetKeys"/>):
/// the trainer runs <see cref="Amount"/> units and reports the units it actually used (fewer when a hook
/// stops it early) under the same key in the result.
/// </summary>
public sealed record TrainingBudget(BudgetKey Key, int Amount)
{
    public static TrainingBudget FromConfig(FastReidConfig cfg, string key = "SOLVER.MAX_EPOCH")
    {
        var row = BudgetKeys.Find(key)
            ?? throw new FastReidException($"'{key}' cannot carry a training budget (known: {string.Join(", ", BudgetKeys.All.Select(b => b.Key))})");
        int amount = cfg.Int(row.Key);
        if (amount < 1) throw new FastReidException($"{row.Key} must be at least 1 (got {amount})");
        return new TrainingBudget(row, amount);
    }

    /// <summary>The number of epochs to train: the only unit today (a new unit converts here).</summary>
    public int Epochs => Key.Unit == "epochs" ? Amount : throw new InvalidOperationException($"budget unit {Key.Unit} has no epoch count");
}
