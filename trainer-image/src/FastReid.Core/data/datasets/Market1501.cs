using System.Text.RegularExpressions;

namespace FastReid.Data.Datasets;

/// <summary>
/// Market-1501 (<c>$FASTREID_DATASETS/Market-1501-v15.09.15/</c>): <c>bounding_box_train</c>,
/// <c>query</c>, <c>bounding_box_test</c>; file names <c>PPPP_cCsS_FFFFFF_NN.jpg</c>. Identity -1 is junk and
/// skipped; 0000 distractors stay in the gallery; cameras 1..6.
/// </summary>
public static partial class Market1501
{
    [GeneratedRegex(@"^(-1|\d+)_c(\d)")]
    private static partial Regex Pattern();

    public static ReidDataset Load(string root, bool withTest = true)
    {
        var dir = FileNameDataset.FirstExisting("Market1501",
            Path.Combine(root, "Market-1501-v15.09.15"), Path.Combine(root, "Market-1501"), Path.Combine(root, "market1501"));
        return FileNameDataset.ReadSplits("Market1501", dir, ("bounding_box_train", "query", "bounding_box_test"), Pattern(), 6, 1501, withTest);
    }
}

/// <summary>DukeMTMC-reID (<c>$FASTREID_DATASETS/DukeMTMC-reID/</c>): the Market layout with cameras 1..8.</summary>
public static partial class DukeMtmc
{
    [GeneratedRegex(@"^(-1|\d+)_c(\d)")]
    private static partial Regex Pattern();

    public static ReidDataset Load(string root, bool withTest = true)
    {
        var dir = FileNameDataset.FirstExisting("DukeMTMC", Path.Combine(root, "DukeMTMC-reID"));
        return FileNameDataset.ReadSplits("DukeMTMC", dir, ("bounding_box_train", "query", "bounding_box_test"), Pattern(), 8, int.MaxValue, withTest);
    }
}

/// <summary>VeRi-776 (<c>$FASTREID_DATASETS/VeRi/</c>): <c>image_train</c>, <c>image_query</c>, <c>image_test</c>; names <c>VVVV_cCCC_...</c>.</summary>
public static partial class VeRi
{
    [GeneratedRegex(@"^(-1|\d+)_c(\d\d\d)")]
    private static partial Regex Pattern();

    public static ReidDataset Load(string root, bool withTest = true)
    {
        var dir = FileNameDataset.FirstExisting("VeRi", Path.Combine(root, "VeRi"));
        return FileNameDataset.ReadSplits("VeRi", dir, ("image_train", "image_query", "image_test"), Pattern(), 20, int.MaxValue, withTest);
    }
}
