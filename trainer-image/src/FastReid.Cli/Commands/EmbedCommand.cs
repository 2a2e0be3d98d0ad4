using System.Text.RegularExpressions;
using FastReid.Config;
using FastReid.Data;
using FastReid.Data.Datasets;
using FastReid.Data.Transforms;
using FastReid.Engine;
using FastReid.Evaluation;
using FastReid.Export;
using FastReid.IO;
using static TorchSharp.torch;

namespace FastReid.Cli.Commands;

internal static partial class EmbedCommand
{
    public static readonly CliCommand Definition = new("embed",
        "write the embeddings of a folder of images to an .npz file",
        """
        Usage: fastreid embed --config FILE --images DIR --out FEATS.npz [--allow-partial-weights] [KEY VALUE ...]
               fastreid embed --onnx MODEL.onnx --images DIR --out FEATS.npz [--size HxW] [--mean R,G,B --std R,G,B]

        Computes the evaluation embedding (what the trained model compares) of every PNG and JPEG file in
        DIR, in sorted file-name order, with the weights in MODEL.WEIGHTS, e.g.
          fastreid embed --config output/demo/config.yaml --images query/ --out query.npz \
                         MODEL.WEIGHTS output/demo/model_final.pth
        Writes a numpy .npz with 'features' float32 [N, D] and 'names' (the file names, as uint8 UTF-8
        rows); when every name follows the Market-1501 rule (PID_cCAM...), also 'pids' and 'camids' int64
        [N], so the result can go straight to 'fastreid evaluate'. Images already at INPUT.SIZE_TEST are
        not resampled. TEST.FLIP.ENABLED averages each image with its mirror. MODEL.WEIGHTS must fill the
        model the config describes (tensors missing, of another shape, or of another architecture are an
        error naming them; a distilled student's connectors are left out).

        With --onnx, an exported model (fastreid export) or an external ReID model with one input
        [N, 3, H, W] and one output [N, D] runs in onnxruntime instead. Pixels are RGB 0-255; --mean
        and --std (per channel, RGB 0-255 scale) normalise them first, for models that expect it (ours
        normalise inside the graph: leave them out).

        Options:
          --config FILE   FastReID YAML config (usually the run's config.yaml)
          --onnx FILE     an ONNX model instead of --config
          --images DIR    folder of images (required)
          --out FILE      .npz to write (required)
          --size HxW      input size for an ONNX model whose height/width are not fixed (e.g. 256x128)
          --mean R,G,B    subtract before the model (ONNX only; default 0,0,0)
          --std R,G,B     divide before the model (ONNX only; default 1,1,1)
          --batch N       images per forward pass (default TEST.IMS_PER_BATCH with --config, 32 with --onnx)
          --allow-partial-weights
                          embed even when MODEL.WEIGHTS does not fill the model: what fits is loaded,
                          the rest keeps its initialisation, and the mismatch is reported
        """,
        [InferenceModel.AllowPartialOption], Run);

    [GeneratedRegex(@"^(-1|\d+)_c(\d+)")]
    private static partial Regex MarketName();

    private static int Run(CliArgs args)
    {
        var onnx = args.Option("onnx");
        var configPath = onnx is null ? args.Require("config") : args.Option("config");
        var imagesDir = args.Require("images");
        var outPath = args.Require("out");
        var size = args.Option("size");
        var mean = args.Option("mean");
        var std = args.Option("std");
        int? batch = args.Option("batch") is null ? null : args.Int("batch", 0);
        bool allowPartial = args.Flag(InferenceModel.AllowPartialOption);
        args.EnsureAllUsed();
        if (onnx is not null && configPath is not null) throw new CliUsageException("give either --config or --onnx, not both");
        if (onnx is null && (size ?? mean ?? std) is not null) throw new CliUsageException("--size, --mean and --std go with --onnx");
        if (onnx is not null && allowPartial) throw new CliUsageException($"--{InferenceModel.AllowPartialOption} goes with --config (it concerns MODEL.WEIGHTS)");
        if (batch < 1) throw new CliUsageException("--batch must be at least 1");
        if (!Directory.Exists(imagesDir)) throw new FastReidException($"--images: folder '{imagesDir}' does not exist");
        var files = Directory.EnumerateFiles(imagesDir).Where(ImageFiles.IsImage).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FastReidException($"--images: folder '{imagesDir}' holds no .jpg, .jpeg or .png files");
        var outDir = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        if (!Directory.Exists(outDir)) throw new FastReidException($"--out: folder '{outDir}' does not exist");
        var records = files.Select(ToRecord).ToList();
        var features = onnx is null
            ? EmbedWithModel(configPath!, args.Positionals, records, batch, allowPartial)
            : EmbedWithOnnx(onnx, records, Size(size), Triple(mean, "--mean", 0), Triple(std, "--std", 1), batch ?? 32);
        return Write(outPath, files, records, features);
    }

    private static FeatureSet EmbedWithModel(string configPath, IReadOnlyList<string> overrides, List<ImageRecord> records, int? batch, bool allowPartial)
    {
        var cfg = ConfigLoader.Load(configPath, overrides);
        var device = Devices.Choose(cfg, Console.Error.WriteLine);
        using var model = InferenceModel.Load(cfg, device, Console.Error.WriteLine, allowPartial);
        var size = cfg.Ints("INPUT.SIZE_TEST");
        var decoder = new ImageDecoder(size[0], size[1], cacheBytes: 0);
        var extractor = new FeatureExtractor(model, decoder, device, batch ?? cfg.Int("TEST.IMS_PER_BATCH"), cfg.Bool("TEST.FLIP.ENABLED"),
            Math.Max(1, cfg.Int("DATALOADER.NUM_WORKERS")));
        var features = extractor.Extract(records, (done, total) => Console.Error.Write($"\rembedding {done}/{total}"));
        Console.Error.WriteLine();
        return features;
    }

    private static FeatureSet EmbedWithOnnx(string onnx, List<ImageRecord> records, (int H, int W)? size, float[] mean, float[] std, int batch)
    {
        using var embedder = new OnnxEmbedder(onnx, size?.H, size?.W);
        var extractor = new FeatureExtractor(new OnnxFeatureModel(embedder, mean, std), new ImageDecoder(embedder.Height, embedder.Width, cacheBytes: 0),
            batch, flip: false, workers: Environment.ProcessorCount);
        var features = extractor.Extract(records, (done, total) => Console.Error.Write($"\rembedding {done}/{total}"));
        Console.Error.WriteLine();
        return features;
    }

    private static ImageRecord ToRecord(string file)
    {
        // a name off the rule (0001-1_c1s1_000001_00.jpg) has no identity: the .npz then holds no pids or camids
        return FileNameDataset.Parse(MarketName(), Path.GetFileName(file)) is var (pid, cam)
            ? new ImageRecord(file, pid, cam - 1, "images")
            : new ImageRecord(file, int.MinValue, int.MinValue, "images");
    }

    internal static (int H, int W)? Size(string? text)
    {
        if (text is null) return null;
        var parts = text.Split('x', 'X');
        return parts.Length == 2 && int.TryParse(parts[0], out var h) && int.TryParse(parts[1], out var w) && h >= 16 && w >= 16
            ? (h, w) : throw new CliUsageException($"--size expects HEIGHTxWIDTH, e.g. 256x128 (got '{text}')");
    }

    internal static float[] Triple(string? text, string option, float fallback)
    {
        if (text is null) return [fallback, fallback, fallback];
        var parts = text.Split(',');
        var values = parts.Select(p => float.TryParse(p, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : float.NaN).ToArray();
        if (values.Length != 3 || values.Any(v => !float.IsFinite(v)) || option == "--std" && values.Any(v => v <= 0))
            throw new CliUsageException($"{option} expects three numbers R,G,B{(option == "--std" ? " above 0" : "")} (got '{text}')");
        return values;
    }

    private static int Write(string outPath, List<string> files, List<ImageRecord> records, FeatureSet features)
    {

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
