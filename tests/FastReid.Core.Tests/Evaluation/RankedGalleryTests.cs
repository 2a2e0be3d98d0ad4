using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

/// <summary>The ranked lists of the report's gallery figure, on cases read off by hand.</summary>
public class RankedGalleryTests
{
    private static FeatureSet Points(float[] x, long[] pids, long[] cams) => new(x, x.Length, 1, pids, cams);

    [Fact]
    public void Nearest_gallery_images_come_first_without_the_same_identity_seen_by_the_same_camera()
    {
        // gallery on a line, query at 2.9 (pid 1, cam 1): by |x - 2.9|, 3 (pid 1, cam 1) is left out as junk
        var gallery = Points([1, 2, 3, 4, 5], pids: [2, 1, 1, 3, 1], cams: [2, 2, 1, 1, 3]);
        var query = Points([2.9f], pids: [1], cams: [1]);
        var ranked = RankedGallery.Rank(query, gallery, 0, 3, "euclidean");
        Assert.Equal([1, 3, 0], ranked.Top.Select(m => m.Gallery));
        Assert.Equal([true, false, false], ranked.Top.Select(m => m.Match));
        Assert.Equal(0.81, ranked.Top[0].Distance, 1e-6);
        Assert.Equal(1.21, ranked.Top[1].Distance, 1e-6);
    }

    [Fact]
    public void Cosine_ranks_by_angle_not_length_and_ties_keep_gallery_order()
    {
        // 2-D: the query points along x; gallery 0 and 2 lie along x at different lengths (a tie at distance 0)
        var gallery = new FeatureSet([5, 0, 0, 1, 0.5f, 0, 1, 1], 4, 2, [7, 8, 9, 7], [0, 0, 0, 0]);
        var query = new FeatureSet([2, 0], 1, 2, [7], [1]);
        var ranked = RankedGallery.Rank(query, gallery, 0, 4, "cosine");
        Assert.Equal([0, 2, 3, 1], ranked.Top.Select(m => m.Gallery));
        Assert.Equal(0, ranked.Top[0].Distance, 1e-12);
        Assert.Equal(1 - Math.Sqrt(0.5), ranked.Top[2].Distance, 1e-7);
        Assert.Equal(1, ranked.Top[3].Distance, 1e-12);
    }

    [Fact]
    public void Picked_queries_are_spread_over_the_list_one_per_identity()
    {
        long[] pids = [1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 5, 6];
        var query = new FeatureSet(new float[pids.Length], pids.Length, 1, pids, new long[pids.Length]);
        var picked = RankedGallery.PickQueries(query, 4);
        Assert.Equal(4, picked.Count);
        Assert.Equal(4, picked.Select(i => pids[i]).Distinct().Count());
        Assert.Equal([0, 3, 6, 9], picked); // every third, each a new identity
        Assert.Equal(6, RankedGallery.PickQueries(query, 10).Count); // no more than the identities there are
        Assert.Throws<FastReidException>(() => RankedGallery.Rank(query, query, 0, 3, "hamming"));
    }
}
