using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

/// <summary>
/// Tiny cases worked out by hand. Features are 1-D points with the euclidean (squared) metric, so the
/// ranking is the order of |x − query| and can be read off directly; no ties.
/// </summary>
public class HandComputedMetricsTests
{
    private static readonly EvaluationOptions Euclidean = new(Metric: "euclidean");

    // Gallery on a line: x = 1..5.            x:   1  2  3  4  5
    private static readonly FeatureSet Gallery = Points([1, 2, 3, 4, 5], pids: [2, 1, 3, 1, 1], cams: [2, 2, 1, 1, 3]);

    private static FeatureSet Points(float[] x, long[] pids, long[] cams) => new(x, x.Length, 1, pids, cams);

    [Fact]
    public void Same_pid_same_camera_entries_are_removed_before_ranking()
    {
        // Query pid 1, camera 1, at 0. Order: x1 (pid 2), x2 (pid 1, cam 2) match, x3 (pid 3),
        // x4 (pid 1, cam 1) removed, x5 (pid 1, cam 3) match. Kept ranks of the matches: 2 and 4.
        // AP = (1/2 + 2/4) / 2 = 0.5; INP = 2 / 4 = 0.5; first match at rank 2.
        // Were x4 kept, the matches would sit at 2, 4, 5 and AP would be (1/2 + 2/4 + 3/5) / 3.
        var m = ReidEvaluator.Evaluate(Points([0], [1], [1]), Gallery, Euclidean);
        Assert.Equal(0.5, m.MAP, 12);
        Assert.Equal(0.5, m.MINP, 12);
        Assert.Equal(0.0, m.Rank1, 12);
        Assert.Equal(1.0, m.Rank5, 12);
        Assert.Equal(1.0, m.Rank10, 12);
    }

    [Fact]
    public void Cmc_is_clipped_and_averaged_over_valid_queries_only()
    {
        // A: pid 1 cam 1 at 0 (as above): AP 1/2, INP 1/2, first match rank 2.
        // B: pid 3 cam 2 at 0: only x3 matches, rank 3: AP 1/3, INP 1/3.
        // C: pid 2 cam 2 at 0: its only gallery image (x1) is from its own camera, so C is skipped.
        // D: pid 9 at 0: not in the gallery, skipped.
        // E: pid 1 cam 2 at 5.1: order x5 (match), x4 (match, cam 1), x3, x2 (same camera, removed), x1:
        //    matches at 1 and 2: AP 1, INP 1, CMC clipped at 1 although two matches are in the top 2.
        var query = Points([0, 0, 0, 0, 5.1f], pids: [1, 3, 2, 9, 1], cams: [1, 2, 2, 1, 2]);
        var m = ReidEvaluator.Evaluate(query, Gallery, Euclidean);
        Assert.Equal((0.5 + 1.0 / 3 + 1) / 3, m.MAP, 12);
        Assert.Equal((0.5 + 1.0 / 3 + 1) / 3, m.MINP, 12);
        Assert.Equal(1.0 / 3, m.Rank1, 12);
        Assert.Equal(1.0, m.Rank5, 12);
    }

    [Fact]
    public void Inp_penalises_the_rank_of_the_hardest_match()
    {
        // Query pid 1 cam 9 at 0.9: order x1 (pid 2, 0.01), x2 (match, 1.21), x3 (4.41), x4 (match, 9.61), x5 (match, 16.81).
        // Ranks 2, 4, 5: AP = (1/2 + 2/4 + 3/5) / 3 = 0.5333..; INP = 3/5.
        var m = ReidEvaluator.Evaluate(Points([0.9f], [1], [9]), Gallery, Euclidean);
        Assert.Equal((0.5 + 0.5 + 0.6) / 3, m.MAP, 12);
        Assert.Equal(0.6, m.MINP, 12);
        Assert.Equal(0.0, m.Rank1, 12);
    }

    [Fact]
    public void Cosine_ignores_feature_scale_and_ranks_by_angle()
    {
        // Query along x. Gallery at angles 10° (pid 5, match), 20° (pid 6), 30° (pid 5, match); lengths differ wildly.
        float[] At(double degrees, double length) =>
            [(float)(length * Math.Cos(degrees * Math.PI / 180)), (float)(length * Math.Sin(degrees * Math.PI / 180))];
        var gallery = new FeatureSet([.. At(10, 100), .. At(20, 0.01), .. At(30, 7)], 3, 2, [5, 6, 5], [1, 1, 1]);
        var query = new FeatureSet([3, 0], 1, 2, [5], [0]);
        var m = ReidEvaluator.Evaluate(query, gallery, new EvaluationOptions());
        Assert.Equal((1 + 2.0 / 3) / 2, m.MAP, 12); // matches at ranks 1 and 3
        Assert.Equal(2.0 / 3, m.MINP, 12);
        Assert.Equal(1.0, m.Rank1, 12);
    }
}
