using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

/// <summary>
/// The streamed TPR@FPR against sklearn's roc_curve transcribed, on scores with many ties between and
/// among matches and non-matches (which decide which curve points sklearn drops), and with a counted
/// region too small at first, as the evaluator widens it.
/// </summary>
public class RocCurveTests
{
    [Theory]
    [InlineData(1, 1000, 20000, 40)]
    [InlineData(2, 1000, 20000, 400)]
    [InlineData(3, 3000, 5000, 60)]
    [InlineData(4, 20000, 100, 1000)]
    [InlineData(5, 150, 9000, 7)]
    public void Tpr_at_fpr_matches_sklearn_roc_curve(int seed, int positives, int negatives, int levels)
    {
        var random = new Random(seed);
        // Matches tend to be closer (smaller distance) than non-matches; integer levels make ties.
        var pos = Enumerable.Range(0, positives).Select(_ => (double)random.Next(levels * 2 / 3)).ToList();
        var neg = Enumerable.Range(0, negatives).Select(_ => (double)random.Next(levels / 3, levels)).ToList();
        var expected = NaiveReference.RocFromScores(pos, neg);

        var sorted = pos.OrderByDescending(v => v).ToArray();
        var row = neg.Select(v => (float)v).ToArray();
        var pids = new long[row.Length]; // all 0; the "query" pid below is 1, so every entry is a non-match
        IReadOnlyDictionary<string, double>? actual = null;
        for (long margin = 0; actual is null; margin = margin * 2 + 1)
        {
            var curve = RocCurve.ForRegion(sorted, negatives, margin);
            var gaps = new long[curve.Bins];
            var ties = new long[curve.Bins];
            curve.CountNegatives(row, pids, 1, gaps, ties);
            actual = curve.Resolve(gaps, ties);
            Assert.True(margin < 1_000_000);
        }
        foreach (var (key, value) in expected) Assert.Equal(value, actual[key], 12);
    }
}
