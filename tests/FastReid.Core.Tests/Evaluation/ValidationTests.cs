using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

public class ValidationTests
{
    private static FeatureSet Set(int n, int dim, long pid = 1, long cam = 1) =>
        new(Enumerable.Range(0, n * dim).Select(i => (float)Math.Sin(i + 1)).ToArray(), n, dim,
            Enumerable.Repeat(pid, n).ToArray(), Enumerable.Range(0, n).Select(i => cam + i).ToArray());

    private static string Fails(FeatureSet query, FeatureSet gallery, EvaluationOptions? options = null) =>
        Assert.Throws<FastReidException>(() => ReidEvaluator.Evaluate(query, gallery, options ?? new())).Message;

    [Fact]
    public void Dimension_mismatch_names_both_shapes() =>
        Assert.Contains("query features are [2, 4], gallery features are [3, 5]", Fails(Set(2, 4), Set(3, 5)));

    [Fact]
    public void Empty_gallery_is_rejected() =>
        Assert.Contains("gallery is empty", Fails(Set(2, 4), Set(0, 4)));

    [Fact]
    public void Nan_and_inf_name_the_set_and_position()
    {
        var gallery = Set(3, 4);
        gallery.Features[6] = float.NaN;
        Assert.Contains("gallery: features contain NaN at row 1, column 2", Fails(Set(2, 4), gallery));
        var query = Set(2, 4);
        query.Features[0] = float.PositiveInfinity;
        Assert.Contains("query: features contain Inf at row 0, column 0", Fails(query, Set(3, 4)));
    }

    [Fact]
    public void Array_lengths_must_agree() =>
        Assert.Contains("gallery: camids has 2 entries but features has 3 rows",
            Fails(Set(2, 4), Set(3, 4) with { CamIds = [1, 2] }));

    [Fact]
    public void No_valid_query_is_an_error()
    {
        // Every gallery image of pid 1 is from the query's own camera.
        var query = Set(1, 4, pid: 1, cam: 7);
        var gallery = new FeatureSet(new float[8] { 1, 0, 0, 0, 0, 1, 0, 0 }, 2, 4, [1, 2], [7, 7]);
        Assert.Contains("no valid query", Fails(query, gallery));
    }

    [Fact]
    public void Unknown_metric_is_rejected() =>
        Assert.Contains("metric 'hamming'", Fails(Set(2, 4), Set(3, 4), new EvaluationOptions(Metric: "hamming")));
}
