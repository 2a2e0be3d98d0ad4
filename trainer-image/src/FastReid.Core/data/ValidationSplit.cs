using System.Globalization;
using FastReid.Config;

namespace FastReid.Data;

/// <summary>
/// A validation split of training identities (<c>DATASETS.VALIDATION.IDENTITY_FRACTION</c>, a FastReid.K8s
/// extension): whole identities held out of the training set and split into a query and a gallery, so a run can
/// be scored (a tuning trial, the best-model choice) without ever reading the test set.
/// <list type="bullet">
/// <item>Which identities: round(fraction × training identities), drawn by a Fisher–Yates shuffle seeded with
/// <c>DATASETS.VALIDATION.SEED</c> over the identities sorted by (dataset, id), among those seen by at least two
/// cameras (a query needs a gallery match from another camera). The draw depends on nothing else: not SEED, not
/// the order the files were listed in, not the rank of a data-parallel run, so every rank and every resume holds
/// out the same identities.</item>
/// <item>Query and gallery, as Market-1501 does: per held-out identity and camera, the first image by file name is
/// a query and the rest are gallery. A query that would then have no gallery image of its identity from another
/// camera (every other camera has a single image) goes to the gallery instead; that happens to at most one camera
/// per identity, and the identity keeps at least one query. So every query has a same-identity gallery match in
/// another camera (the evaluation, as FastReID's, ignores same-camera matches).</item>
/// </list>
/// </summary>
/// <param name="Train">The training images that remain, in their original order.</param>
/// <param name="Validation">The held-out identities' images as a query/gallery set (its training split is empty).</param>
/// <param name="HeldOut">The held-out identities, sorted.</param>
/// <param name="TrainingIdentities">Identities of the training set before the split.</param>
/// <param name="Fraction">DATASETS.VALIDATION.IDENTITY_FRACTION.</param>
/// <param name="Seed">DATASETS.VALIDATION.SEED.</param>
public sealed record ValidationSplit(IReadOnlyList<ImageRecord> Train, ReidDataset Validation, IReadOnlyList<(string Dataset, int Pid)> HeldOut,
    int TrainingIdentities, double Fraction, int Seed)
{
    public const string FractionKey = "DATASETS.VALIDATION.IDENTITY_FRACTION";
    public const string SeedKey = "DATASETS.VALIDATION.SEED";
    /// <summary>The name the validation set is evaluated under (log lines).</summary>
    public const string Name = "validation";

    /// <summary>The split the config asks for; null when <c>DATASETS.VALIDATION.IDENTITY_FRACTION</c> is 0 (off).</summary>
    public static ValidationSplit? FromConfig(FastReidConfig cfg, IReadOnlyList<ImageRecord> train)
    {
        double fraction = CheckFraction(cfg.Float(FractionKey));
        return fraction == 0 ? null : Hold(train, fraction, cfg.Int(SeedKey));
    }

    /// <summary>The fraction, refused outside [0, 1) naming the key.</summary>
    public static double CheckFraction(double fraction) =>
        fraction >= 0 && fraction < 1 ? fraction
            : throw new ConfigException($"{FractionKey} must be at least 0 (0 = off) and below 1, got {Invariant(fraction)}", FractionKey);

    /// <summary>Holds out <paramref name="fraction"/> (0 &lt; f &lt; 1) of the identities of <paramref name="train"/>.</summary>
    public static ValidationSplit Hold(IReadOnlyList<ImageRecord> train, double fraction, int seed)
    {
        if (CheckFraction(fraction) == 0) throw new ArgumentOutOfRangeException(nameof(fraction), "0 means no validation split");
        var byIdentity = train.GroupBy(r => (r.Dataset, r.Pid))
            .OrderBy(g => g.Key.Dataset, StringComparer.Ordinal).ThenBy(g => g.Key.Pid)
            .Select(g => (g.Key, Images: g.OrderBy(r => Path.GetFileName(r.Path), StringComparer.Ordinal).ThenBy(r => r.Path, StringComparer.Ordinal).ToList()))
            .ToList();
        int identities = byIdentity.Count;
        int wanted = (int)Math.Round(fraction * identities, MidpointRounding.AwayFromZero);
        string what = $"{FractionKey} {Invariant(fraction)} of {identities} training identities holds out {wanted}";
        if (identities < 4)
            throw new ConfigException($"{what}, but a validation split needs at least 2 held-out identities and 2 left to train, " +
                $"and the training set has {identities}: set {FractionKey} 0 (off) or train on more identities", FractionKey);
        if (wanted < 2)
            throw new ConfigException($"{what}; a validation split needs at least 2 identities: raise it to at least " +
                $"{Invariant(Math.Ceiling(1500.0 / identities) / 1000)} or set 0 (off)", FractionKey);
        if (identities - wanted < 2)
            throw new ConfigException($"{what}, leaving {identities - wanted} to train on; training needs at least 2: lower the fraction", FractionKey);
        var eligible = byIdentity.Where(g => g.Images.Select(r => r.CamId).Distinct().Skip(1).Any()).ToList();
        if (eligible.Count < wanted)
            throw new ConfigException($"{what}, but only {eligible.Count} of them are seen by at least 2 cameras " +
                "(a validation query needs a gallery match from another camera): lower the fraction", FractionKey);

        Samplers.IdentitySamplers.Shuffle(eligible, new Random(seed));
        var heldOut = eligible.Take(wanted).OrderBy(g => g.Key.Dataset, StringComparer.Ordinal).ThenBy(g => g.Key.Pid).ToList();
        var query = new List<ImageRecord>();
        var gallery = new List<ImageRecord>();
        foreach (var (_, images) in heldOut) SplitByCamera(images, query, gallery);
        var held = heldOut.Select(g => g.Key).ToHashSet();
        var remaining = train.Where(r => !held.Contains((r.Dataset, r.Pid))).ToList();
        return new ValidationSplit(remaining, new ReidDataset(Name, [], query, gallery), heldOut.Select(g => g.Key).ToList(), identities, fraction, seed);
    }

    /// <summary>One identity's images (sorted by file name, at least two cameras) into queries and gallery.</summary>
    private static void SplitByCamera(List<ImageRecord> images, List<ImageRecord> query, List<ImageRecord> gallery)
    {
        var cameras = images.GroupBy(r => r.CamId).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        // a camera's first image is a query only if another camera keeps a gallery image; the first camera whose
        // query would lack one gives its image to the gallery, which then matches every other camera's query
        int demoted = cameras.FindIndex(c => !cameras.Any(o => o[0].CamId != c[0].CamId && o.Count > 1));
        for (int i = 0; i < cameras.Count; i++)
        {
            if (i != demoted) query.Add(cameras[i][0]);
            gallery.AddRange(i == demoted ? cameras[i] : cameras[i].Skip(1));
        }
    }

    /// <summary>sha256 of the held-out identities: equal on every rank of a data-parallel run that read the same training set.</summary>
    public string Digest() =>
        Storage.Sha256.Of(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", HeldOut.Select(h => $"{h.Dataset}:{h.Pid.ToString(CultureInfo.InvariantCulture)}"))));

    /// <summary>The log line of a run that evaluates on this split.</summary>
    public string Describe() =>
        $"evaluating on {HeldOut.Count} validation identities ({Validation.Query.Count} query, {Validation.Gallery.Count} gallery images), not the test set: " +
        $"{FractionKey} {Invariant(Fraction)} with {SeedKey} {Seed} held out {HeldOut.Count} of {TrainingIdentities} training identities";

    private static string Invariant(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
