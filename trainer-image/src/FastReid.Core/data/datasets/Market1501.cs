using System.Text.RegularExpressions;

namespace FastReid.Data.Datasets;

/// <summary>
/// Market-1501 (<c>$FASTREID_DATASETS/Market-1501-v15.09.15/</c>): <c>bounding_box_train</c>,
/// <c>query</c>, <c>bounding_box_test</c>; file names <c>PPPP_cCsS_FFFFFF_NN.jpg</c>. Identity -1 is junk and
/// skipped; 0000 distractors stay in the gallery; cameras 1..6.
/// </summary>
public static partial class Market1501
{
    [GeneratedRegex(@"^([-\d]+)_c(\d)")]
    private static partial Regex Pattern();

    public static ReidDataset Load(string root)
    {
        var dir = FileNameDataset.FirstExisting("Market1501",
            Path.Combine(root, "Market-1501-v15.09.15"), Path.Combine(root, "Market-1501"), Path.Combine(root, "market1501"));
        return new ReidDataset("Market1501",
            FileNameDataset.ReadSplit(Path.Combine(dir, "bounding_box_train"), Pattern(), "Market1501", 6, 1501),
            FileNameDataset.ReadSplit(Path.Combine(dir, "query"), Pattern(), "Market1501", 6, 1501),
            FileNameDataset.ReadSplit(Path.Combine(dir, "bounding_box_test"), Pattern(), "Market1501", 6, 1501));
    }
}

/// <summary>DukeMTMC-reID (<c>$FASTREID_DATASETS/DukeMTMC-reID/</c>): the Market layout with cameras 1..8.</summary>
public static partial class DukeMtmc
{
    [GeneratedRegex(@"^([-\d]+)_c(\d)")]
    private static partial Regex Pattern();

    public static ReidDataset Load(string root)
    {
        var dir = FileNameDataset.FirstExisting("DukeMTMC", Path.Combine(root, "DukeMTMC-reID"));
        return new ReidDataset("DukeMTMC",
            FileNameDataset.ReadSplit(Path.Combine(dir, "bounding_box_train"), Pattern(), "DukeMTMC", 8, int.MaxValue),
            FileNameDataset.ReadSplit(Path.Combine(dir, "query"), Pattern(), "DukeMTMC", 8, int.MaxValue),
            FileNameDataset.ReadSplit(Path.Combine(dir, "bounding_box_test"), Pattern(), "DukeMTMC", 8, int.MaxValue));
    }
}

/// <summary>VeRi-776 (<c>$FASTREID_DATASETS/VeRi/</c>): <c>image_train</c>, <c>image_query</c>, <c>image_test</c>; names <c>VVVV_cCCC_...</c>.</summary>
public static partial class VeRi
{
    [GeneratedRegex(@"^([-\d]+)_c(\d\d\d)")]
    private static partial Regex Pattern();

    public static ReidDataset Load(string root)
    {
        var dir = FileNameDataset.FirstExisting("VeRi", Path.Combine(root, "VeRi"));
        return new ReidDataset("VeRi",
            FileNameDataset.ReadSplit(Path.Combine(dir, "image_train"), Pattern(), "VeRi", 20, int.MaxValue),
            FileNameDataset.ReadSplit(Path.Combine(dir, "image_query"), Pattern(), "VeRi", 20, int.MaxValue),
            FileNameDataset.ReadSplit(Path.Combine(dir, "image_test"), Pattern(), "VeRi", 20, int.MaxValue));
    }
}
