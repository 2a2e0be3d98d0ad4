using FastReid.Modeling.MetaArch;

namespace FastReid.Engine;

/// <summary>
/// How a weights file's tensors line up with a model's, by name and shape: the decision behind
/// <see cref="WeightLoading.Load"/>, kept apart from the copying so it is tested without tensors. Model names are
/// the file's names after <c>prefix</c> (<c>backbone.</c> for ImageNet backbone weights).
/// <para>
/// Two kinds of file entries the model lacks are <see cref="Extras"/>, never <see cref="Unexpected"/>, because
/// they cannot change what the model computes: a DistillerOverhaul student's connectors (<c>connectors_*</c>: trained
/// with the student and kept in its files for resuming, as FastReID does, but a distilled student embeds, evaluates
/// and exports as a Baseline, which has none) and batch norm's <c>num_batches_tracked</c> counters (some files have
/// them, some do not; BN with a momentum never reads them). Any other entry the model lacks means the file is of
/// another architecture (a deeper ResNet, IBN or non-local blocks the config does not enable), so the model that loads it is not the one that was trained. A model's counters the file
/// lacks are not <see cref="Missing"/> for the same reason.
/// </para>
/// </summary>
/// <param name="Loadable">file names whose model tensor has the same shape (counters included)</param>
/// <param name="Missing">model names under the prefix that the file lacks (counters aside)</param>
/// <param name="Unexpected">file names the model lacks, <see cref="Extras"/> aside</param>
/// <param name="OtherShape">"name [file shape] vs [model shape]" for names both have</param>
/// <param name="Extras">file names the model lacks that never change its output (see above)</param>
public sealed record WeightsMatch(
    IReadOnlyList<string> Loadable, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> OtherShape, IReadOnlyList<string> Extras)
{
    /// <summary>Lists follow the model's module order; names only the file has are sorted (a file's order is its writer's).</summary>
    public static WeightsMatch Of(IReadOnlyDictionary<string, long[]> model, IReadOnlyDictionary<string, long[]> file, string prefix)
    {
        var loadable = new List<string>();
        var missing = new List<string>();
        var otherShape = new List<string>();
        foreach (var (key, target) in model)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var name = key[prefix.Length..];
            if (!file.TryGetValue(name, out var shape)) { if (!IsCounter(key)) missing.Add(key); }
            else if (!target.SequenceEqual(shape)) otherShape.Add($"{key} {Shape(shape)} vs {Shape(target)}");
            else loadable.Add(name);
        }
        var onlyInFile = file.Keys.Where(n => !model.ContainsKey(prefix + n)).Order(StringComparer.Ordinal).ToList();
        return new WeightsMatch(loadable, missing, onlyInFile.Where(n => !IsExtra(n)).ToList(), otherShape, onlyInFile.Where(IsExtra).ToList());
    }

    /// <summary>Loadable tensors that hold learnt values (counters aside): none means the file is not for this model at all.</summary>
    public int LoadedValues => Loadable.Count(n => !IsCounter(n));

    /// <summary>Every tensor of the model comes from the file, and the file holds nothing for another architecture.</summary>
    public bool FillsModel => Missing.Count == 0 && Unexpected.Count == 0 && OtherShape.Count == 0;

    /// <summary>What keeps the file from filling the model, as one clause: "missing: ...; other shape: ...; not in the model: ...".</summary>
    public string Problems() => string.Join("; ", new[]
    {
        Missing.Count > 0 ? $"missing: {Summarise(Missing)}" : null,
        OtherShape.Count > 0 ? $"other shape: {Summarise(OtherShape)}" : null,
        Unexpected.Count > 0 ? $"not in the model: {Summarise(Unexpected)}" : null,
    }.OfType<string>());

    /// <summary>The one-line report of a load that went ahead.</summary>
    public string Report(string sourceName)
    {
        var report = $"loaded {LoadedValues} tensors from {sourceName}";
        if (Missing.Count > 0) report += $"; not in the file: {Summarise(Missing)}";
        if (Unexpected.Count > 0) report += $"; not in the model: {Summarise(Unexpected)}";
        if (OtherShape.Count > 0) report += $"; skipped for shape: {Summarise(OtherShape)}";
        var connectors = Extras.Count(n => !IsCounter(n));
        if (connectors > 0) report += $"; left out {connectors} distillation connector tensors ({DistillerOverhaul.ConnectorPrefix}*, not on the embedding path)";
        return report;
    }

    private static bool IsCounter(string name) => name.EndsWith("num_batches_tracked", StringComparison.Ordinal);

    private static bool IsExtra(string name) => IsCounter(name) || name.StartsWith(DistillerOverhaul.ConnectorPrefix, StringComparison.Ordinal);

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    internal static string Summarise(IReadOnlyList<string> names) =>
        names.Count <= 4 ? string.Join(", ", names) : string.Join(", ", names.Take(4)) + $" and {names.Count - 4} more";
}
