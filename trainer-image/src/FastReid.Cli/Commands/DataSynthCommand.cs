using System.Diagnostics;
using FastReid.Data.Synth;

namespace FastReid.Cli.Commands;

internal static class DataSynthCommand
{
    public static readonly CliCommand Definition = new("data synth",
        "write a synthetic Market-1501-layout dataset (tests, demo)",
        """
        Usage: fastreid data synth --out DIR [options]

        Writes DIR/Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}: JPEG crops of
        synthetic people, half of the identities for training and half for testing, with
        camera-dependent backgrounds, lighting and blur, 0000 distractors and -1 junk in the gallery.
        Train on it with FASTREID_DATASETS=DIR and DATASETS.NAMES '("Market1501",)'.

        Options:
          --out DIR             folder to write into (required)
          --identities N        identities in all, split half/half (default 120)
          --cameras C           cameras, 2..6 (default 6)
          --seed S              random seed (default 0)
          --width W --height H  image size (default 64 x 128)
          --train-images N      training images per identity (default 16)
          --gallery-images N    gallery images per test identity (default 8)
          --queries N           query images per test identity (default 2)
          --distractors N       0000 gallery distractors (default: one per test identity)
          --junk N              -1 junk gallery images (default: one per two test identities)
        """,
        [], Run);

    private static int Run(CliArgs args)
    {
        var outDir = args.Require("out");
        var options = new SynthOptions(
            Identities: args.Int("identities", 120), Cameras: args.Int("cameras", 6), Seed: args.Int("seed", 0),
            Width: args.Int("width", 64), Height: args.Int("height", 128),
            TrainImagesPerIdentity: args.Int("train-images", 16), GalleryImagesPerIdentity: args.Int("gallery-images", 8),
            QueriesPerIdentity: args.Int("queries", 2), Distractors: args.Int("distractors", -1), Junk: args.Int("junk", -1));
        args.EnsureAllUsed();
        args.EnsureNoPositionals();
        var watch = Stopwatch.StartNew();
        Console.WriteLine($"writing a synthetic Market-1501 set ({options.Identities} identities, {options.Cameras} cameras, seed {options.Seed}) to {Path.GetFullPath(outDir)}");
        SynthSummary summary;
        try
        {
            summary = SyntheticMarket.Write(outDir, options, Console.WriteLine);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FastReidException($"cannot write to '{outDir}': {e.Message}", e);
        }
        Console.WriteLine($"done in {watch.Elapsed.TotalSeconds:F1} s: {summary.Root}");
        Console.WriteLine($"  train   {summary.TrainImages,6} images, {summary.TrainIdentities} identities");
        Console.WriteLine($"  query   {summary.QueryImages,6} images, {summary.TestIdentities} identities");
        Console.WriteLine($"  gallery {summary.GalleryImages,6} images (with distractors and junk)");
        return 0;
    }
}
