using System.Globalization;
using System.Text.Json;
using FastReid.Config;
using FastReid.Data;
using FastReid.Data.Datasets;
using FastReid.Engine;
using FastReid.Evaluation;
using FastReid.Export;
using FastReid.Modeling.MetaArch;
using static TorchSharp.torch;

namespace FastReid.Cli.Commands;

/// <summary>
/// <c>fastreid evaluate</c>: FastReID's retrieval metrics for query/gallery embeddings saved as .npz
/// (from this toolkit or from PyTorch/FastReID via np.savez).
/// </summary>
internal static class EvaluateCommand
{
    private const string Usage = """
        Usage: fastreid evaluate --query Q.npz --gallery G.npz [options]
               fastreid evaluate --config FILE [--onnx MODEL.onnx | --allow-partial-weights] [KEY VALUE ...]
               fastreid evaluate --onnx MODEL.onnx --dataset NAME[,NAME] [--size HxW] [--mean R,G,B --std R,G,B]
                                 [--flip] [--batch N] [options]

        Computes FastReID's metrics (mAP, Rank-1/5/10, mINP, TPR@FPR) of query embeddings against a
        gallery.

        From .npz files: each holds features float32 [N, D], pids int64 [N], camids int64 [N]
        (np.savez(path, features=..., pids=..., camids=...); 'fastreid embed' writes them); features
        may be unnormalised.

        On datasets under $FASTREID_DATASETS (or --datasets DIR), embedding query and gallery images:
        - --config: the trained TorchSharp model (MODEL.WEIGHTS) on DATASETS.TESTS, with the config's
          INPUT.SIZE_TEST, TEST.IMS_PER_BATCH, TEST.FLIP, TEST.METRIC, TEST.RERANK and TEST.AQE, as
          FastReID's --eval-only does:
            fastreid evaluate --config output/demo/config.yaml MODEL.WEIGHTS output/demo/model_final.pth
          MODEL.WEIGHTS must fill the model the config describes (tensors missing, of another shape, or
          of another architecture are an error naming them; a distilled student's connectors are left out).
          With --onnx too, the ONNX model computes the embeddings instead (same data and settings), so
          an export can be checked against the numbers of training.
        - --onnx and --dataset: an ONNX model alone (ours, or an external ReID model with one input
          [N, 3, H, W] of RGB 0-255 pixels and one output [N, D]); --mean/--std normalise the pixels
          first for models that expect it, --size gives the input size when the model does not fix it,
          --flip averages each image with its mirror.

        Options:
          --query PATH          query embeddings (.npz)
          --gallery PATH        gallery embeddings (.npz)
          --config FILE         evaluate on the config's DATASETS.TESTS
          --onnx FILE           an ONNX model computes the embeddings
          --allow-partial-weights
                                with --config alone: evaluate even when MODEL.WEIGHTS does not fill the
                                model (what fits is loaded, the rest keeps its initialisation; reported)
          --dataset NAMES       datasets to evaluate on (with --onnx alone; comma-separated)
          --datasets DIR        dataset root (default $FASTREID_DATASETS, else ./datasets)
          --size HxW            input size of an ONNX model without a fixed one (with --dataset)
          --mean R,G,B          subtract before the ONNX model (0-255 scale; default 0,0,0)
          --std R,G,B           divide before the ONNX model (default 1,1,1)
          --flip                flip test (with --dataset; the config's TEST.FLIP.ENABLED otherwise)
          --batch N             images per forward pass (default TEST.IMS_PER_BATCH, or 64)
          --metric NAME         cosine (default) or euclidean (squared)
          --rerank              k-reciprocal re-ranking (Zhong et al. 2017)
            --k1 N              neighbours of the k-reciprocal sets (default 20)
            --k2 N              neighbours of the local query expansion (default 6)
            --lambda X          weight of the original distance (default 0.3)
          --aqe                 alpha-weighted average query expansion
            --qe-times N        expansion rounds (default 1)
            --qe-k N            neighbours averaged (default 5)
            --alpha X           similarity exponent (default 3.0)
          --memory-mb N         working-memory budget for the distance blocks (default 512)
          --json                print JSON (one object per dataset) instead of a table
        (With --config, the metric, re-ranking and query-expansion settings come from the config's TEST
        keys: override them as KEY VALUE pairs, e.g. TEST.METRIC euclidean.)
        """;

    public static readonly CliCommand Definition = new(
        "evaluate", "FastReID metrics (mAP, CMC, mINP, TPR@FPR) of query/gallery embeddings in .npz files",
        Usage, ["rerank", "aqe", "json", "flip", InferenceModel.AllowPartialOption], Run);

    private static int Run(CliArgs args) =>
        args.Option("config") is not null || args.Option("onnx") is not null || args.Option("dataset") is not null
            ? RunOnDatasets(args)
            : RunOnFiles(args);

    private static int RunOnFiles(CliArgs args)
    {
        args.EnsureNoPositionals();
        PartialWeightsOption(args, loadsWeights: false);
        var queryPath = args.Require("query");
        var galleryPath = args.Require("gallery");
        bool json = args.Flag("json");
        var options = OptionsFromArgs(args);
        args.EnsureAllUsed();
        try { FeatureValidation.Check(options); }
        catch (FastReidException e) { throw new CliUsageException(e.Message); }

        var query = FeatureSetNpz.Read(queryPath);
        var gallery = FeatureSetNpz.Read(galleryPath);
        FeatureValidation.CheckPair(query, gallery, queryPath, galleryPath);
        ReidMetrics result;
        try { result = ReidEvaluator.Evaluate(query, gallery, options); }
        catch (FastReidException e) { throw new FastReidException($"{queryPath} against {galleryPath}: {e.Message}", e); }

        if (json) Console.WriteLine(ToJson(result));
        else PrintTable(result, query, gallery, options);
        return 0;
    }

    private static readonly string[] EvaluationFlags = ["metric", "rerank", "k1", "k2", "lambda", "aqe", "qe-times", "qe-k", "alpha"];

    /// <summary>
    /// Embeds the query and gallery images of datasets with the TorchSharp model or an ONNX model and
    /// evaluates them; with --config the data and settings are the config's, as in training.
    /// </summary>
    private static int RunOnDatasets(CliArgs args)
    {
        var configPath = args.Option("config");
        var onnxPath = args.Option("onnx");
        var datasetNames = args.Option("dataset");
        bool json = args.Flag("json");
        bool allowPartial = PartialWeightsOption(args, loadsWeights: configPath is not null && onnxPath is null);
        if (args.Option("query") is not null || args.Option("gallery") is not null)
            throw new CliUsageException("--query/--gallery evaluate .npz files; they do not combine with --config, --onnx or --dataset");
        if (configPath is null && onnxPath is null)
            throw new CliUsageException("--dataset needs a model: --onnx MODEL.onnx (or use --config FILE, whose DATASETS.TESTS are evaluated)");
        if (configPath is not null && datasetNames is not null)
            throw new CliUsageException("with --config the datasets are DATASETS.TESTS: override them as 'DATASETS.TESTS (\"Name\",)' instead of --dataset");
        if (configPath is null && datasetNames is null)
            throw new CliUsageException("--onnx alone needs --dataset NAME (or --config FILE for the config's DATASETS.TESTS and settings)");
        if (onnxPath is null && (args.Option("mean") ?? args.Option("std")) is not null)
            throw new CliUsageException("--mean and --std go with --onnx");
        if (configPath is not null)
        {
            foreach (var name in EvaluationFlags.Append("size").Append("flip"))
                if (args.Option(name) is not null || args.Flag(name))
                    throw new CliUsageException($"--{name} does not combine with --config: the config's INPUT.SIZE_TEST and TEST keys decide (override them as KEY VALUE pairs)");
        }
        else
        {
            args.EnsureNoPositionals();
        }

        var datasetsRoot = args.Option("datasets");
        int? batchOption = args.Option("batch") is null ? null : args.Int("batch", 0);
        if (batchOption < 1) throw new CliUsageException("--batch must be at least 1");
        var mean = EmbedCommand.Triple(args.Option("mean"), "--mean", 0);
        var std = EmbedCommand.Triple(args.Option("std"), "--std", 1);
        var size = EmbedCommand.Size(args.Option("size"));

        FastReidConfig cfg;
        EvaluationOptions options;
        bool flip;
        if (configPath is not null)
        {
            cfg = ConfigLoader.Load(configPath, args.Positionals);
            if (onnxPath is null) ConfigPreflight.ForInference(cfg);
            options = DefaultTrainer.EvaluationOptionsFrom(cfg) with { Roc = true };
            flip = cfg.Bool("TEST.FLIP.ENABLED");
            var sizeTest = cfg.Ints("INPUT.SIZE_TEST");
            size = (sizeTest[0], sizeTest[1]);
        }
        else
        {
            cfg = FastReidConfig.Defaults();
            cfg.ApplyOverrides(["DATASETS.TESTS", "(" + string.Join("", datasetNames!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => $"\"{n}\",")) + ")"]);
            options = OptionsFromArgs(args);
            flip = args.Flag("flip");
        }
        options = options with { MemoryBudgetBytes = args.Long("memory-mb", options.MemoryBudgetBytes >> 20) << 20 };
        args.EnsureAllUsed();
        try { FeatureValidation.Check(options); }
        catch (FastReidException e) { throw new CliUsageException(e.Message); }
        // only now, with the config and options known to be good: an s3:// root is synced here
        var root = datasetsRoot ?? DatasetRegistry.Root(Console.Error.WriteLine);
        var tests = DataBuilder.BuildTests(cfg, root);
        if (tests.Count == 0) throw new FastReidException($"{configPath}: DATASETS.TESTS is empty: nothing to evaluate");

        // the model is built only after the data is known to be there
        MetaArch? torchModel = null;
        OnnxEmbedder? embedder = null;
        try
        {
            IFeatureModel model;
            int batch;
            string source;
            if (onnxPath is not null)
            {
                embedder = new OnnxEmbedder(onnxPath, size?.H, size?.W);
                size = (embedder.Height, embedder.Width);
                model = new OnnxFeatureModel(embedder, mean, std);
                batch = batchOption ?? (configPath is null ? 64 : cfg.Int("TEST.IMS_PER_BATCH"));
                source = $"{onnxPath} (onnxruntime)";
            }
            else
            {
                var device = Devices.Choose(cfg, Console.Error.WriteLine);
                torchModel = InferenceModel.Load(cfg, device, Console.Error.WriteLine, allowPartial);
                model = new TorchFeatureModel(torchModel, device);
                batch = batchOption ?? cfg.Int("TEST.IMS_PER_BATCH");
                source = $"{cfg.String("MODEL.WEIGHTS")} (TorchSharp, {device.type})";
            }
            var decoder = new ImageDecoder(size!.Value.H, size.Value.W, cacheBytes: 0);
            var extractor = new FeatureExtractor(model, decoder, batch, flip, Math.Max(1, Environment.ProcessorCount));
            Console.Error.WriteLine($"model: {source}; input {size.Value.H}x{size.Value.W}{(flip ? ", flip test" : "")}");
            // the trainer's evaluation of DATASETS.TESTS; only what is printed per set differs
            TestSetEvaluation.Run(extractor, tests, options, r =>
            {
                if (json)
                {
                    Console.WriteLine(ToJson(r.Metrics, r.Test.Name));
                }
                else
                {
                    Console.WriteLine($"{r.Test.Name}: {source}");
                    PrintTable(r.Metrics, r.Query, r.Gallery, options);
                    Console.WriteLine();
                }
            }, Progress);
        }
        finally
        {
            torchModel?.Dispose();
            embedder?.Dispose();
        }
        return 0;
    }

    /// <summary>--allow-partial-weights, refused where no MODEL.WEIGHTS is loaded (only --config without --onnx loads them).</summary>
    private static bool PartialWeightsOption(CliArgs args, bool loadsWeights)
    {
        bool allow = args.Flag(InferenceModel.AllowPartialOption);
        if (allow && !loadsWeights)
            throw new CliUsageException($"--{InferenceModel.AllowPartialOption} goes with --config alone (the TorchSharp model of MODEL.WEIGHTS); an ONNX model or .npz files load no weights");
        return allow;
    }

    private static Action<int, int> Progress(string what) => (done, total) =>
    {
        Console.Error.Write($"\rembedding {what} {done}/{total}");
        if (done == total) Console.Error.WriteLine();
    };

    /// <summary>The metric, re-ranking and query-expansion options of the command line.</summary>
    private static EvaluationOptions OptionsFromArgs(CliArgs args)
    {
        var metric = args.Option("metric") ?? "cosine";
        if (metric is not ("cosine" or "euclidean"))
            throw new CliUsageException($"option --metric expects cosine or euclidean, got '{metric}'");
        bool rerank = args.Flag("rerank");
        bool aqe = args.Flag("aqe");
        var defaults = new EvaluationOptions();
        return new EvaluationOptions(
            Metric: metric,
            Rerank: rerank,
            K1: Dependent(args, "k1", rerank, "rerank", n => args.Int(n, defaults.K1)),
            K2: Dependent(args, "k2", rerank, "rerank", n => args.Int(n, defaults.K2)),
            Lambda: Dependent(args, "lambda", rerank, "rerank", n => args.Double(n, defaults.Lambda)),
            Aqe: aqe,
            QeTimes: Dependent(args, "qe-times", aqe, "aqe", n => args.Int(n, defaults.QeTimes)),
            QeK: Dependent(args, "qe-k", aqe, "aqe", n => args.Int(n, defaults.QeK)),
            Alpha: Dependent(args, "alpha", aqe, "aqe", n => args.Double(n, defaults.Alpha)),
            Roc: true,
            MemoryBudgetBytes: args.Long("memory-mb", defaults.MemoryBudgetBytes >> 20) << 20);
    }

    /// <summary>Reads an option that only means something together with a flag, rejecting it without the flag.</summary>
    private static T Dependent<T>(CliArgs args, string name, bool enabled, string flag, Func<string, T> read)
    {
        if (!enabled && args.Option(name) is not null)
            throw new CliUsageException($"option --{name} only applies with --{flag}");
        return read(name);
    }

    internal static string ToJson(ReidMetrics m, string? dataset = null)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            if (dataset is not null) writer.WriteString("dataset", dataset);
            writer.WriteNumber("mAP", m.MAP);
            writer.WriteNumber("rank1", m.Rank1);
            writer.WriteNumber("rank5", m.Rank5);
            writer.WriteNumber("rank10", m.Rank10);
            writer.WriteNumber("mINP", m.MINP);
            if (m.TprAtFpr is { } tpr)
            {
                writer.WriteStartObject("tpr@fpr");
                foreach (var (key, value) in tpr) writer.WriteNumber(key, value);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void PrintTable(ReidMetrics m, FeatureSet query, FeatureSet gallery, EvaluationOptions o)
    {
        var settings = new List<string> { o.Metric };
        if (o.Aqe) settings.Add(string.Create(CultureInfo.InvariantCulture, $"AQE qe-times={o.QeTimes} qe-k={o.QeK} alpha={o.Alpha}"));
        if (o.Rerank) settings.Add(string.Create(CultureInfo.InvariantCulture, $"re-ranking k1={o.K1} k2={o.K2} lambda={o.Lambda}"));
        Console.WriteLine($"{query.Count} queries, {gallery.Count} gallery images, dim {query.Dim} ({string.Join(", ", settings)})");
        Console.WriteLine();
        var rows = new List<(string, double)>
        {
            ("mAP", m.MAP), ("Rank-1", m.Rank1), ("Rank-5", m.Rank5), ("Rank-10", m.Rank10), ("mINP", m.MINP),
        };
        if (m.TprAtFpr is { } tpr) rows.AddRange(tpr.Select(kv => ($"TPR@FPR={kv.Key}", kv.Value)));
        Console.WriteLine($"{"metric",-16} {"value",8}");
        foreach (var (name, value) in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-16} {value * 100,7:F2}%"));
    }
}
