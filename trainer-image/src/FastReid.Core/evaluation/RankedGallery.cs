namespace FastReid.Evaluation;

/// <summary>One gallery image in a query's ranked list: its index in the gallery, distance, and whether it is the same identity.</summary>
public sealed record RankedMatch(int Gallery, double Distance, bool Match);

/// <summary>A query's top-ranked gallery images, nearest first.</summary>
public sealed record RankedQuery(int Query, IReadOnlyList<RankedMatch> Top);

/// <summary>
/// The ranked lists that FastReID's <c>visualize_result</c> draws: for a few queries, the k nearest gallery
/// images by the evaluation's plain distance (no re-ranking or query expansion), with the same identity seen
/// by the same camera left out as the evaluation leaves it out. Distances in float64, ties by gallery order,
/// so the list is the one an exact implementation gives; a handful of queries is a few rows, not the GEMM.
/// </summary>
public static class RankedGallery
{
    /// <summary>Up to <paramref name="count"/> queries spread evenly over the query list, each of a different identity.</summary>
    public static IReadOnlyList<int> PickQueries(FeatureSet query, int count)
    {
        var picked = new List<int>();
        var seen = new HashSet<long>();
        if (query.Count == 0 || count <= 0) return picked;
        int stride = Math.Max(1, query.Count / count);
        for (int start = 0; start < stride && picked.Count < count; start++)
            for (int i = start; i < query.Count && picked.Count < count; i += stride)
                if (seen.Add(query.Pids[i])) picked.Add(i);
        picked.Sort();
        return picked;
    }

    /// <summary>The <paramref name="k"/> nearest gallery images of query <paramref name="q"/> by <paramref name="metric"/> (cosine or euclidean).</summary>
    public static RankedQuery Rank(FeatureSet query, FeatureSet gallery, int q, int k, string metric)
    {
        if (query.Dim != gallery.Dim) throw new FastReidException($"query features have {query.Dim} dimensions and gallery features {gallery.Dim}");
        if (q < 0 || q >= query.Count) throw new ArgumentOutOfRangeException(nameof(q), q, $"the query set has {query.Count} images");
        bool cosine = metric switch
        {
            "cosine" => true,
            "euclidean" => false,
            _ => throw new FastReidException($"TEST.METRIC '{metric}': expected cosine or euclidean"),
        };
        int d = query.Dim;
        var qv = query.Features.AsSpan(q * d, d);
        double qNorm = cosine ? Math.Max(Norm(qv), 1e-12) : 1;
        var candidates = new List<RankedMatch>(gallery.Count);
        for (int g = 0; g < gallery.Count; g++)
        {
            bool samePid = gallery.Pids[g] == query.Pids[q];
            if (samePid && gallery.CamIds[g] == query.CamIds[q]) continue; // junk in FastReID's protocol
            var gv = gallery.Features.AsSpan(g * d, d);
            double distance;
            if (cosine)
            {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += (double)qv[i] * gv[i];
                distance = 1 - dot / (qNorm * Math.Max(Norm(gv), 1e-12));
            }
            else
            {
                double sum = 0;
                for (int i = 0; i < d; i++) { double diff = (double)qv[i] - gv[i]; sum += diff * diff; }
                distance = sum;
            }
            candidates.Add(new RankedMatch(g, distance, samePid));
        }
        var top = candidates.OrderBy(c => c.Distance).ThenBy(c => c.Gallery).Take(k).ToList();
        return new RankedQuery(q, top);
    }

    private static double Norm(ReadOnlySpan<float> v)
    {
        double s = 0;
        foreach (var x in v) s += (double)x * x;
        return Math.Sqrt(s);
    }
}
