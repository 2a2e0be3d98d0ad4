using System.Globalization;

namespace FastReid.Data.Datasets;

/// <summary>
/// A dataset in a plain folder layout: <c>NAME/{train,query,gallery}/PID/CAMID_anything.(jpg|png)</c>,
/// one folder per identity (integer; -1 is junk and skipped), the camera id (integer, 0-based) before the
/// first underscore of each file name.
/// </summary>
public static class GenericFolder
{
    /// <param name="withTest">false: read train/ only (query and gallery are empty, their folders not looked at)</param>
    public static ReidDataset Load(string folder, string name, bool withTest = true) =>
        new(name, ReadSplit(folder, "train", name), withTest ? ReadSplit(folder, "query", name) : [], withTest ? ReadSplit(folder, "gallery", name) : []);

    private static List<ImageRecord> ReadSplit(string folder, string split, string name)
    {
        var dir = Path.Combine(folder, split);
        if (!Directory.Exists(dir)) throw new FastReidException($"{name}: split folder '{dir}' does not exist (expected train/, query/, gallery/)");
        var records = new List<ImageRecord>();
        foreach (var idDir in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
        {
            if (!int.TryParse(Path.GetFileName(idDir), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var pid))
                throw new FastReidException($"{name}: identity folder '{idDir}' is not an integer");
            if (pid == -1) continue;
            foreach (var path in Directory.EnumerateFiles(idDir).Where(ImageFiles.IsImage).Order(StringComparer.Ordinal))
            {
                var stem = Path.GetFileName(path).Split('_')[0];
                if (!int.TryParse(stem, NumberStyles.Integer, CultureInfo.InvariantCulture, out var cam) || cam < 0)
                    throw new FastReidException($"{name}: '{path}' must start with its camera id (e.g. 2_0001.jpg)");
                records.Add(new ImageRecord(path, pid, cam, name));
            }
        }
        if (records.Count == 0) throw new FastReidException($"{name}: split folder '{dir}' holds no images");
        return records;
    }
}
