using System.Globalization;

namespace FastReid.Data.Datasets;

/// <summary>
/// MSMT17 (<c>$FASTREID_DATASETS/MSMT17_V2/</c> or <c>MSMT17_V1/</c>): images listed in
/// <c>list_train.txt</c> + <c>list_val.txt</c> (training), <c>list_query.txt</c>, <c>list_gallery.txt</c>, one
/// <c>relative/path pid</c> per line; the camera is the third <c>_</c>-separated field of the file name (1-based).
/// </summary>
public static class Msmt17
{
    public static ReidDataset Load(string root, bool withTest = true)
    {
        var v2 = Path.Combine(root, "MSMT17_V2");
        var v1 = Path.Combine(root, "MSMT17_V1");
        var dir = FileNameDataset.FirstExisting("MSMT17", v2, v1);
        bool isV2 = dir == v2;
        string trainDir = Path.Combine(dir, isV2 ? "mask_train_v2" : "train");
        string testDir = Path.Combine(dir, isV2 ? "mask_test_v2" : "test");
        var train = ReadList(trainDir, Path.Combine(dir, "list_train.txt"));
        train.AddRange(ReadList(trainDir, Path.Combine(dir, "list_val.txt")));
        return new ReidDataset("MSMT17", train,
            withTest ? ReadList(testDir, Path.Combine(dir, "list_query.txt")) : [],
            withTest ? ReadList(testDir, Path.Combine(dir, "list_gallery.txt")) : []);
    }

    private static List<ImageRecord> ReadList(string imageDir, string listFile)
    {
        if (!File.Exists(listFile)) throw new FastReidException($"MSMT17: list file '{listFile}' does not exist");
        var records = new List<ImageRecord>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(listFile))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
                throw new FastReidException($"MSMT17: {listFile}:{lineNo}: expected 'path pid', got '{line}'");
            var fields = Path.GetFileName(parts[0]).Split('_');
            if (fields.Length < 3 || !int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var cam))
                throw new FastReidException($"MSMT17: {listFile}:{lineNo}: cannot read the camera from '{parts[0]}'");
            records.Add(new ImageRecord(Path.Combine(imageDir, parts[0]), pid, cam - 1, "MSMT17"));
        }
        if (records.Count == 0) throw new FastReidException($"MSMT17: list file '{listFile}' is empty");
        return records;
    }
}
