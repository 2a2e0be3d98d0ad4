using System.Globalization;
using FastReid.Config;
using FastReid.Data;
using FastReid.Engine;
using FastReid.Export;

namespace FastReid.Cli.Commands;

internal static class ExportCommand
{
    public static readonly CliCommand Definition = new("export",
        "export a trained model to ONNX, verified against onnxruntime",
        """
        Usage: fastreid export --config FILE --output DIR|s3://BUCKET/PREFIX [--format onnx] [--opset 17] [--batch dynamic|N]
                               [--tolerance 1e-4] [--images DIR] [--allow-partial-weights] [KEY VALUE ...]

        Writes DIR/model.onnx: input 'images' float32 [batch, 3, H, W] RGB 0-255 (H, W from
        INPUT.SIZE_TEST; mean/std normalisation is inside the graph), output 'features' [batch, D], the
        evaluation embedding. Weights come from MODEL.WEIGHTS, e.g.
          fastreid export --config output/demo/config.yaml --output output/demo/export \
                          MODEL.WEIGHTS output/demo/model_final.pth
        Before model.onnx appears, onnxruntime and the TorchSharp model run the same random batches
        (batch 1 and 7, or the static batch), and with --images the first 7 images of DIR too; if the
        worst per-image relative error exceeds the tolerance, the export fails and leaves no model.onnx.
        DIR/verify.json holds the figures either way; a failed verification exits with code 3. With
        FASTREID_RESULT_FILE set, the result JSON (model URI, sha256, figures) is written there too.
        --config and MODEL.WEIGHTS may be s3:// URIs (a run's published config.yaml and
        model_final.pth); an s3:// --output receives model.onnx and verify.json once verified
        (credentials and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL).
        MODEL.WEIGHTS must fill the model the config describes: a tensor the model has and the file lacks
        or holds in another shape, or one the file has for another architecture, is an error naming them
        (exit 1, nothing written). A distilled student's connectors are not needed and are left out.

        Options:
          --config FILE|URI   FastReID YAML config (required; usually the run's config.yaml)
          --output DIR|URI    folder or s3:// prefix for model.onnx and verify.json (required)
          --format onnx       the only format so far
          --opset N           ONNX opset (default 17; 17 or newer)
          --batch dynamic|N   dynamic batch axis (default) or a static batch of N
          --tolerance X       largest accepted relative error (default 1e-4)
          --images DIR        also verify on these PNG/JPEG files (decoded as 'fastreid embed' does)
          --allow-partial-weights
                              export even when MODEL.WEIGHTS does not fill the model: what fits is
                              loaded, the rest keeps its initialisation, and the mismatch is reported
        """,
        [InferenceModel.AllowPartialOption], Run);

    private static int Run(CliArgs args)
    {
        var configPath = args.Require("config");
        var outputDir = args.Require("output");
        var format = args.Option("format") ?? "onnx";
        if (format != "onnx") throw new CliUsageException(format == "tensorrt"
            ? "--format tensorrt: only 'onnx' is supported; build a TensorRT engine from model.onnx with trtexec --onnx=model.onnx on the target GPU"
            : $"--format {format}: only 'onnx' is supported");
        int opset = args.Int("opset", 17);
        var batchText = args.Option("batch") ?? "dynamic";
        long? staticBatch = batchText == "dynamic" ? null
            : long.TryParse(batchText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 1 ? n
            : throw new CliUsageException($"--batch expects 'dynamic' or a positive integer, got '{batchText}'");
        double tolerance = args.Double("tolerance", 1e-4);
        if (!(tolerance > 0) || !double.IsFinite(tolerance)) throw new CliUsageException($"--tolerance must be a positive number, got '{tolerance}'");
        var imagesDir = args.Option("images");
        bool allowPartial = args.Flag(InferenceModel.AllowPartialOption);
        args.EnsureAllUsed();
        List<string>? images = null;
        if (imagesDir is not null)
        {
            if (!Directory.Exists(imagesDir)) throw new FastReidException($"--images: folder '{imagesDir}' does not exist");
            images = Directory.EnumerateFiles(imagesDir).Where(ImageFiles.IsImage).Order(StringComparer.Ordinal).Take(7).ToList();
            if (images.Count == 0) throw new FastReidException($"--images: folder '{imagesDir}' holds no .jpg, .jpeg or .png files");
        }
        var cfg = ConfigLoader.Load(configPath, args.Positionals);
        ConfigPreflight.ForInference(cfg);
        var size = cfg.Ints("INPUT.SIZE_TEST");
        var options = new OnnxExportOptions(size[0], size[1], opset, staticBatch, tolerance, Images: images);
        var (report, modelUri, _) = ExportRun.Run(cfg, outputDir, options, Console.Error.WriteLine, allowPartial);
        Console.WriteLine($"wrote {modelUri} (features [{batchText}, {report.OutputDim}], opset {opset}, sha256 {report.ModelSha256}); " +
            $"verified against onnxruntime {report.OnnxRuntime}: max relative error {report.MaxRelativeError:E2} <= {tolerance:G3}");
        return 0;
    }
}
