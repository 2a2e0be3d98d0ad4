using System.Text.RegularExpressions;
using FastReid.Config;
using FastReid.Data;
using FastReid.Engine;
using FastReid.IO;
using static TorchSharp.torch;

namespace FastReid.Cli.Commands;

internal static partial class EmbedCommand
{
    public static readonly CliCommand Definition = new("embed",
        "write the embeddings of a folder of images to an .npz file",
        """
        Usage: fastreid embed --config FILE --images DIR --out FEATS.npz [KEY VALUE ...]

        Computes the evaluation embedding (what the trained model compares) of every PNG and JPEG file in
        DIR, in sorted file-name order, with the weights in MODEL.WEIGHTS, e.g.
          fastreid embed --config output/demo/config.yaml --images query/ --out query.npz \
                         MODEL.WEIGHTS output/demo/model_final.pth
        Writes a numpy .npz with 'features' float32 [N, D] and 'names' (the file names, as uint8 UTF-8
        rows); when every name follows the Market-1501 rule (PID_cCAM...), also 'pids' and 'camids' int64
        [N], so the result can go straight to 'fastreid evaluate'. Images already at INPUT.SIZE_TEST are
        not resampled. TEST.FLIP.ENABLED averages each image with its mirror.

        Options:
          --config FILE   FastReID YAML config (required; usually the run's config.yaml)
          --images DIR    folder of images (required)
          --out FILE      .npz to write (required)
        """,
        [], Run);

    [GeneratedRegex(@"^([-\d]+)_c(\d+)")]
    private static partial Regex MarketName();

    private static int Run(CliArgs args)
    {
        var configPath = args.Require("config");
        var imagesDir = args.Require("images");
        var outPath = args.Require("out");
        args.EnsureAllUsed();
        if (!Directory.Exists(imagesDir)) throw new FastReidException($"--images: folder '{imagesDir}' does not exist");
        var files = Directory.EnumerateFiles(imagesDir).Where(ImageFiles.IsImage).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FastReidException($"--images: folder '{imagesDir}' holds no .jpg, .jpeg or .png files");
        var outDir = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        if (!Directory.Exists(outDir)) throw new FastReidException($"--out: folder '{outDir}' does not exist");

        var cfg = ConfigLoader.Load(configPath, args.Positionals);
        var device = cfg.String("MODEL.DEVICE") == "cuda" && cuda.is_available() ? CUDA : CPU;
        using var model = InferenceModel.Load(cfg, device, Console.Error.WriteLine);
        var size = cfg.Ints("INPUT.SIZE_TEST");
        var decoder = new ImageDecoder(size[0], size[1], cacheBytes: 0);
        var records = files.Select(f =>
        {
            var m = MarketName().Match(Path.GetFileName(f));
            return m.Success
                ? new ImageRecord(f, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) - 1, "images")
                : new ImageRecord(f, int.MinValue, int.MinValue, "images");
        }).ToList();
        var extractor = new FeatureExtractor(model, decoder, device, cfg.Int("TEST.IMS_PER_BATCH"), cfg.Bool("TEST.FLIP.ENABLED"),
            Math.Max(1, cfg.Int("DATALOADER.NUM_WORKERS")));
        var features = extractor.Extract(records, (done, total) => Console.Error.Write($"\rembedding {done}/{total}"));
        Console.Error.WriteLine();

        var names = files.Select(Path.GetFileName).ToArray();
        int width = names.Max(n => System.Text.Encoding.UTF8.GetByteCount(n!));
        var nameBytes = new byte[names.Length * width];
        for (int i = 0; i < names.Length; i++) System.Text.Encoding.UTF8.GetBytes(names[i]!, 0, names[i]!.Length, nameBytes, i * width);
        var arrays = new Dictionary<string, NpyArray>
        {
            ["features"] = NpyArray.Of(features.Features, features.Count, features.Dim),
            ["names"] = NpyArray.Of(nameBytes, names.Length, width),
        };
        if (records.All(r => r.Pid != int.MinValue))
        {
            arrays["pids"] = NpyArray.Of(features.Pids, features.Count);
            arrays["camids"] = NpyArray.Of(features.CamIds, features.Count);
        }
        Npz.Write(outPath, arrays);
        Console.WriteLine($"wrote {features.Count} embeddings of dimension {features.Dim} to {outPath}");
        return 0;
    }
}
