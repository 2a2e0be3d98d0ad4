using System.Globalization;

namespace FastReid.Config;

/// <summary>
/// The values a number key (or each item of a number list) may take: <see cref="Min"/> to <see cref="Max"/>, both
/// included, unless <see cref="AboveMin"/> excludes <see cref="Min"/> ("above 0") or <see cref="BelowMax"/> excludes
/// <see cref="Max"/> ("below 1"). Integer keys are at most in the
/// 32-bit range the trainer reads them in; a wider value is a config error naming the key, not an overflow later.
/// </summary>
public sealed record ValueRange(double Min, double Max, bool AboveMin = false, bool BelowMax = false)
{
    public static ValueRange Int32 { get; } = new(int.MinValue, int.MaxValue);

    public bool Contains(double value) => (AboveMin ? value > Min : value >= Min) && (BelowMax ? value < Max : value <= Max);

    /// <summary>"from -1 to 2147483647", "above 0", "at least 1", "at least 0 and below 1".</summary>
    public override string ToString()
    {
        var low = AboveMin ? $"above {Text(Min)}" : $"at least {Text(Min)}";
        if (double.IsPositiveInfinity(Max)) return low;
        if (!AboveMin && !BelowMax) return $"from {Text(Min)} to {Text(Max)}";
        return $"{low} and {(BelowMax ? "below" : "at most")} {Text(Max)}";
    }

    private static string Text(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}
