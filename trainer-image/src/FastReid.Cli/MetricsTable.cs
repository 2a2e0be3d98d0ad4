using System.Globalization;
using FastReid.Evaluation;

namespace FastReid.Cli;

/// <summary>The R1/R5/R10/mAP/mINP table FastReID prints after evaluation.</summary>
internal static class MetricsTable
{
    public static void Print(TextWriter w, ReidMetrics m, string label, ReidMetrics? best = null, int bestEpoch = 0)
    {
        w.WriteLine();
        w.WriteLine("| {0,-22} | {1,7} | {2,7} | {3,7} | {4,7} | {5,7} |", "", "R1", "R5", "R10", "mAP", "mINP");
        w.WriteLine("|{0}|{1}|{1}|{1}|{1}|{1}|", new string('-', 24), new string('-', 9));
        Row(w, label, m);
        if (best is not null && bestEpoch > 0) Row(w, $"best (epoch {bestEpoch})", best);
        w.WriteLine();
    }

    private static void Row(TextWriter w, string label, ReidMetrics m) =>
        w.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {label,-22} | {m.Rank1 * 100,6:F2}% | {m.Rank5 * 100,6:F2}% | {m.Rank10 * 100,6:F2}% | {m.MAP * 100,6:F2}% | {m.MINP * 100,6:F2}% |"));
}
