using FastReid.IO;

namespace FastReid.Evaluation;

/// <summary>
/// A <see cref="FeatureSet"/> as a numpy .npz: <c>features</c> float32 [N, D], <c>pids</c> int64 [N],
/// <c>camids</c> int64 [N] — what FastReID/PyTorch users can produce with np.savez.
/// </summary>
public static class FeatureSetNpz
{
    public static FeatureSet Read(string path)
    {
        var arrays = Npz.Read(path);
        var features = Require(arrays, path, "features", "<f4", "float32", 2, "[N, D]");
        var pids = Require(arrays, path, "pids", "<i8", "int64", 1, "[N]");
        var camids = Require(arrays, path, "camids", "<i8", "int64", 1, "[N]");
        long n = features.Shape[0], d = features.Shape[1];
        if (d == 0) throw new FastReidException($"{path}: array 'features' has shape {features.ShapeText}; D must be > 0");
        if (pids.Shape[0] != n)
            throw new FastReidException($"{path}: array 'pids' has shape {pids.ShapeText} but 'features' has {n} rows");
        if (camids.Shape[0] != n)
            throw new FastReidException($"{path}: array 'camids' has shape {camids.ShapeText} but 'features' has {n} rows");
        var set = new FeatureSet((float[])features.Data, (int)n, (int)d, (long[])pids.Data, (long[])camids.Data);
        FeatureValidation.Check(set, $"{path}");
        return set;
    }

    public static void Write(string path, FeatureSet set, bool compressed = false) =>
        Npz.Write(path, new Dictionary<string, NpyArray>
        {
            ["features"] = NpyArray.Of(set.Features, set.Count, set.Dim),
            ["pids"] = NpyArray.Of(set.Pids, set.Count),
            ["camids"] = NpyArray.Of(set.CamIds, set.Count),
        }, compressed);

    private static NpyArray Require(IReadOnlyDictionary<string, NpyArray> arrays, string path, string name,
        string dtype, string dtypeName, int rank, string shape)
    {
        if (!arrays.TryGetValue(name, out var array))
            throw new FastReidException(
                $"{path}: array '{name}' is missing (found: {(arrays.Count == 0 ? "none" : string.Join(", ", arrays.Keys))}); expected {name} {dtypeName} {shape}");
        if (array.Dtype != dtype)
            throw new FastReidException($"{path}: array '{name}' has dtype {array.Dtype}, expected {dtypeName} ({dtype}); convert with .astype(np.{dtypeName})");
        if (array.Shape.Length != rank)
            throw new FastReidException($"{path}: array '{name}' has shape {array.ShapeText}, expected {shape}");
        if (array.Shape.Any(s => s > int.MaxValue))
            throw new FastReidException($"{path}: array '{name}' has shape {array.ShapeText}, too large");
        return array;
    }
}
