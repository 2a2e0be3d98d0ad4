using System.Globalization;
using System.Text.RegularExpressions;

namespace FastReid.Data.Datasets;

/// <summary>
/// Shared reader for datasets that encode identity and camera in file names
/// (Market-1501, DukeMTMC-reID, VeRi-776): one folder per split, <c>-1</c> identities are junk and skipped.
/// </summary>
public static class FileNameDataset
{
    public static List<ImageRecord> ReadSplit(string dir, Regex pattern, string dataset, int maxCamera, int maxPid, bool skipJunk = true)
    {
        if (!Directory.Exists(dir))
            throw new FastReidException($"{dataset}: split folder '{dir}' does not exist");
        var records = new List<ImageRecord>();
        foreach (var path in Directory.EnumerateFiles(dir).Where(ImageFiles.IsImage).Order(StringComparer.Ordinal))
        {
            if (Parse(pattern, Path.GetFileName(path)) is not var (pid, cam))
                throw new FastReidException($"{dataset}: '{path}' does not follow the naming rule {pattern} (identity_cCAMERA..., identity -1 or digits)");
            if (pid == -1 && skipJunk) continue;
            if (pid < -1 || pid > maxPid)
                throw new FastReidException($"{dataset}: '{path}': identity {pid} is outside 0..{maxPid}");
            if (cam < 1 || cam > maxCamera)
                throw new FastReidException($"{dataset}: '{path}': camera {cam} is outside 1..{maxCamera}");
            records.Add(new ImageRecord(path, pid, cam - 1, dataset));
        }
        if (records.Count == 0)
            throw new FastReidException($"{dataset}: split folder '{dir}' holds no usable images");
        return records;
    }

    /// <summary>
    /// The identity and camera a file name gives by <paramref name="pattern"/> (groups 1 and 2), or null when it does not
    /// follow the rule or a number does not fit in 32 bits. FastReID's <c>map(int, pattern.search(path).groups())</c>
    /// raises on such names (e.g. <c>0001-1_c1s1_000001_00.jpg</c>); they are named instead.
    /// </summary>
    public static (int Pid, int Camera)? Parse(Regex pattern, string fileName)
    {
        var m = pattern.Match(fileName);
        return m.Success && int.TryParse(m.Groups[1].ValueSpan, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var pid)
            && int.TryParse(m.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var cam)
            ? (pid, cam) : null;
    }

    /// <summary>
    /// The three split folders of <paramref name="dir"/>; without <paramref name="withTest"/> only the training
    /// folder is read (query and gallery are empty, their folders not even looked at).
    /// </summary>
    public static ReidDataset ReadSplits(string dataset, string dir, (string Train, string Query, string Gallery) folders, Regex pattern,
        int maxCamera, int maxPid, bool withTest) =>
        new(dataset,
            ReadSplit(Path.Combine(dir, folders.Train), pattern, dataset, maxCamera, maxPid),
            withTest ? ReadSplit(Path.Combine(dir, folders.Query), pattern, dataset, maxCamera, maxPid) : [],
            withTest ? ReadSplit(Path.Combine(dir, folders.Gallery), pattern, dataset, maxCamera, maxPid) : []);

    /// <summary>The first candidate folder that exists (FastReID accepts old and new layouts).</summary>
    public static string FirstExisting(string dataset, params string[] candidates) =>
        candidates.FirstOrDefault(Directory.Exists)
        ?? throw new FastReidException($"{dataset}: dataset folder not found; looked for {string.Join(", ", candidates.Select(c => $"'{c}'"))}");
}
