using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

/// <summary>
/// The ranking that counts what lies above each match instead of sorting the gallery: exact ties (broken by
/// gallery index, as a stable argsort), queries with no positive, all-positive queries, same-camera filtering,
/// and both product backends.
/// </summary>
public class RankCountingTests
{
    private static readonly EvaluationOptions Euclidean = new(Metric: "euclidean");

    private static FeatureSet Points(float[] x, long[] pids, long[] cams) => new(x, x.Length, 1, pids, cams);

    [Fact]
    public void Exact_ties_are_ordered_by_gallery_index()
    {
        // Query at 0; every gallery point lies at distance 1. Stable order = index order:
        // 0 non-match, 1 match, 2 match, 3 non-match: kept ranks 2 and 3.
        var gallery = Points([1, 1, -1, -1], pids: [2, 1, 1, 3], cams: [2, 2, 2, 2]);
        var m = ReidEvaluator.Evaluate(Points([0], [1], [1]), gallery, Euclidean);
        Assert.Equal((1 / 2.0 + 2 / 3.0) / 2, m.MAP, 12);
        Assert.Equal(2 / 3.0, m.MINP, 12);
        Assert.Equal(0.0, m.Rank1, 12);
        // The same points with the non-match moved behind the matches in index order: ranks 1 and 2.
        var after = Points([1, -1, 1, -1], pids: [1, 1, 2, 3], cams: [2, 2, 2, 2]);
        Assert.Equal(1.0, ReidEvaluator.Evaluate(Points([0], [1], [1]), after, Euclidean).MAP, 12);
    }

    [Theory]
    [InlineData(51, "euclidean")]
    [InlineData(52, "cosine")]
    public void Many_exact_ties_match_the_reference(int seed, string metric)
    {
        // Features on the grid {-1, 0, 1}^3 (a few pids, many cameras): float32 products are exact, so many
        // distances tie exactly and the (distance, index) order decides every rank.
        var random = new Random(seed);
        FeatureSet Grid(int count, int pids)
        {
            var x = new float[count * 3];
            for (int i = 0; i < x.Length; i++) x[i] = random.Next(3) - 1;
            if (metric == "cosine") for (int i = 0; i < count; i++) x[i * 3] = x[i * 3] == 0 && x[i * 3 + 1] == 0 && x[i * 3 + 2] == 0 ? 1 : x[i * 3];
            return new FeatureSet(x, count, 3, [.. Enumerable.Range(0, count).Select(_ => (long)random.Next(pids))],
                [.. Enumerable.Range(0, count).Select(_ => (long)random.Next(4))]);
        }
        var query = Grid(40, 6);
        var gallery = Grid(300, 8);
        var options = new EvaluationOptions(Metric: metric);
        var expected = NaiveReference.Evaluate(query, gallery, options);
        var actual = ReidEvaluator.Evaluate(query, gallery, options);
        Assert.Equal(expected.MAP, actual.MAP, 12);
        Assert.Equal(expected.MINP, actual.MINP, 12);
        Assert.Equal(expected.Rank1, actual.Rank1, 12);
        Assert.Equal(expected.Rank5, actual.Rank5, 12);
    }

    [Fact]
    public void Queries_without_a_positive_are_skipped_and_none_valid_is_an_error()
    {
        var gallery = Points([1, 2, 3], pids: [1, 1, 2], cams: [1, 2, 1]);
        // Query pid 1 camera 2: match x1 (camera 1), x2 is same pid and camera (removed): AP 1.
        // Query pid 2 camera 1: its only gallery image shares its camera: no positive, skipped.
        // Query pid 7: absent from the gallery, skipped.
        var m = ReidEvaluator.Evaluate(Points([0, 0, 0], [1, 2, 7], [2, 1, 1]), gallery, Euclidean);
        Assert.Equal(1.0, m.MAP, 12);
        Assert.Equal(1.0, m.Rank1, 12);
        var e = Assert.Throws<FastReidException>(() => ReidEvaluator.Evaluate(Points([0, 0], [2, 7], [1, 1]), gallery, Euclidean));
        Assert.Contains("no valid query", e.Message);
    }

    [Fact]
    public void A_query_whose_kept_gallery_is_all_positive_scores_one()
    {
        // Every entry has the query's pid: the two from camera 1 (the query's) are removed, the rest all match.
        var gallery = Points([5, 1, 4, 2, 3], pids: [1, 1, 1, 1, 1], cams: [1, 2, 1, 3, 4]);
        var m = ReidEvaluator.Evaluate(Points([0], [1], [1]), gallery, Euclidean with { Roc = false });
        Assert.Equal(1.0, m.MAP, 12);
        Assert.Equal(1.0, m.MINP, 12);
        Assert.Equal(1.0, m.Rank1, 12);
    }

    [Fact]
    public void Only_same_pid_and_same_camera_entries_are_filtered()
    {
        // Query pid 1 camera 1 at 0. x=1: pid 1 camera 1 (junk for this query, removed); x=2: pid 3 camera 1
        // (another person in the query's camera: kept, counts above the match); x=3: the match (camera 2).
        var gallery = Points([1, 2, 3], pids: [1, 3, 1], cams: [1, 1, 2]);
        var m = ReidEvaluator.Evaluate(Points([0], [1], [1]), gallery, Euclidean);
        Assert.Equal(0.5, m.MAP, 12);
        Assert.Equal(0.5, m.MINP, 12);
        Assert.Equal(0.0, m.Rank1, 12);
        Assert.Equal(1.0, m.Rank5, 12);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Libtorch_and_openblas_products_give_the_same_metrics(bool rerank)
    {
        var (query, gallery) = RandomCases.Make(61, queries: 50, galleryCount: 400, dim: 32);
        var options = new EvaluationOptions(Rerank: rerank, Roc: true);
        var torchOnly = ReidEvaluator.Evaluate(query, gallery, options, RowProducts.Torch);
        var loaded = ReidEvaluator.Evaluate(query, gallery, options, RowProducts.Default);
        Assert.Equal(torchOnly.MAP, loaded.MAP, 12);
        Assert.Equal(torchOnly.MINP, loaded.MINP, 12);
        Assert.Equal(torchOnly.Rank1, loaded.Rank1, 12);
        foreach (var (key, value) in torchOnly.TprAtFpr!) Assert.Equal(value, loaded.TprAtFpr![key], 12);
    }
}
