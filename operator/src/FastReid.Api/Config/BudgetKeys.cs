namespace FastReid.Config;

/// <summary>A config key that can carry a training budget, and the unit "used" is counted in.</summary>
public sealed record BudgetKey(string Key, string Unit);

/// <summary>
/// The config keys a training budget can be given in (a TuneSweep's <c>budget.key</c>, a promotion's larger
/// budget). Shared by the operator, which checks a sweep's key, and the trainer, which runs for that long and
/// reports what it used. Today only epochs: a budget in iterations or images would be a new row here.
/// </summary>
public static class BudgetKeys
{
    public static BudgetKey MaxEpoch { get; } = new("SOLVER.MAX_EPOCH", "epochs");

    public static IReadOnlyList<BudgetKey> All { get; } = [MaxEpoch];

    /// <summary>The row for <paramref name="key"/>; null when the key cannot carry a budget.</summary>
    public static BudgetKey? Find(string key) => All.FirstOrDefault(b => b.Key == key);
}
