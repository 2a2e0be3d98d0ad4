namespace FastReid.Data;

/// <summary>One image of a ReID set: its file, identity and camera (0-based), and the dataset it came from.</summary>
public sealed record ImageRecord(string Path, int Pid, int CamId, string Dataset);

/// <summary>A dataset's three splits as FastReID builds them: train, query and gallery.</summary>
public sealed record ReidDataset(string Name, IReadOnlyList<ImageRecord> Train, IReadOnlyList<ImageRecord> Query, IReadOnlyList<ImageRecord> Gallery)
{
    public int TrainIdentities => Train.Select(r => r.Pid).Distinct().Count();
}
