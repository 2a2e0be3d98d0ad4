using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Config;
using FastReid.Engine;
using FastReid.Export;
using FastReid.Modeling.MetaArch;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;
using FastReid.Storage;

namespace FastReid.Cli.Commands;

internal static class BenchExportCommand
{
    public static readonly CliCommand Definition = new("bench export",
        "CPU latency of the ONNX export in onnxruntime vs the TorchSharp model",
        """
        Usage: fastreid bench export --config FILE [--name NAME] [--batches 1,32] [--reps 20,5] [--warmup 3]
                                     [--threads N] [--out FILE] [--allow-partial-weights] [KEY VALUE ...]

        Builds the model the config describes (MODEL.WEIGHTS, or random initialisation when it is empty:
        latency does not depend on the weight values; weights that do not fill the model are an error, as in
        'fastreid export'), writes it as ONNX with the exporter of
        'fastreid export', and times the same random RGB 0-255 batches at INPUT.SIZE_TEST through the
        TorchSharp model (eval mode, no_grad, CPU) and through onnxruntime (CPU execution provider),
        interleaved rep by rep in one process so that both see the same machine load. Prints and records
        median and p90 latency, images/s, the ratio TorchSharp median / onnxruntime median, and the
        largest relative error between the two outputs (per image max|onnx-torch| / max|torch|).

        --out keeps the entries of other models already in FILE, so one file collects several runs:
          fastreid bench export --config trainer-image/configs/Market1501/bagtricks_R50.yml --name R50

        Options:
          --config FILE      FastReID YAML config (required)
          --name NAME        the model's entry in --out (default ResNet-<MODEL.BACKBONE.DEPTH>)
          --batches B,...    batch sizes (default 1,32)
          --reps N,...       timed runs per batch size: one number for all, or one per batch (default 20,5)
          --warmup N         untimed runs per batch size and runtime first, at least 1 (default 3)
          --threads N        torch threads and onnxruntime intra-op threads (default: the cores, here PROCESSORS)
          --out FILE         JSON results (default bench/results/export.json)
          --allow-partial-weights
                             load MODEL.WEIGHTS even when it does not fill the model (reported)
        """.Replace("PROCESSORS", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
        [InferenceModel.AllowPartialOption], Run);

    private sealed record Timing(double MedianMs, double P90Ms, double ImagesPerSecond);

    private static int Run(CliArgs args)
    {
        var configPath = args.Require("config");
        var name = args.Option("name");
        var batches = Ints(args.Option("batches") ?? "1,32", "--batches");
        var repsList = Ints(args.Option("reps") ?? "20,5", "--reps");
        int warmup = args.Int("warmup", 3), threads = args.Int("threads", Environment.ProcessorCount);
        var outFile = args.Option("out") ?? Path.Combine("bench", "results", "export.json");
        bool allowPartial = args.Flag(InferenceModel.AllowPartialOption);
        args.EnsureAllUsed();
        if (repsList.Length != 1 && repsList.Length != batches.Length)
            throw new CliUsageException($"--reps gives {repsList.Length} numbers for {batches.Length} batch sizes: give one, or one per batch");
        if (warmup < 1) throw new CliUsageException("--warmup must be at least 1 (the first run also gives the error figure)");
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");

        var cfg = ConfigLoader.Load(configPath, args.Positionals);
        var size = cfg.Ints("INPUT.SIZE_TEST");
        name ??= $"ResNet-{cfg.String("MODEL.BACKBONE.DEPTH")}";
        torch.set_num_threads(threads);
        var weights = cfg.String("MODEL.WEIGHTS");
        // compared with onnxruntime on the CPU, so the TorchSharp model runs there too, whatever MODEL.DEVICE says
        using var model = weights.Length > 0 ? InferenceModel.Load(cfg, Devices.Choose("cpu", Console.Error.WriteLine), Console.Error.WriteLine, allowPartial) : RandomModel(cfg);
        model.eval();
        var onnx = BaselineOnnxWriter.Write(model, size[0], size[1]).ToByteArray();
        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var session = new InferenceSession(onnx, sessionOptions);
        Console.Error.WriteLine($"bench export {name}: {onnx.Length / 1e6:F1} MB ONNX, input {size[0]}x{size[1]}, {threads} thread(s)");

        var loadBefore = LoadAverage();
        var rows = new JsonArray();
        for (int b = 0; b < batches.Length; b++)
        {
            int batch = batches[b], reps = repsList.Length == 1 ? repsList[0] : repsList[b];
            var row = MeasureBatch(model, session, batch, size[0], size[1], warmup, reps, name);
            rows.Add(row);
        }

        var entry = new JsonObject
        {
            ["command"] = "fastreid bench export --config " + configPath + (args.Positionals.Count > 0 ? " " + string.Join(" ", args.Positionals) : ""),
            ["model"] = $"Baseline ResNet-{cfg.String("MODEL.BACKBONE.DEPTH")} (width x{cfg.Float("MODEL.BACKBONE.WIDTH_MULT").ToString(CultureInfo.InvariantCulture)}), " +
                        $"{cfg.String("MODEL.HEADS.NAME")} {cfg.String("MODEL.HEADS.POOL_LAYER")}, BNNeck {cfg.Bool("MODEL.HEADS.WITH_BNNECK")}, embedding {model.EmbeddingDim}",
            ["weights"] = weights.Length > 0 ? weights : "random initialisation (MODEL.WEIGHTS empty); latency does not depend on the weight values",
            ["input"] = new JsonArray(size[0], size[1]),
            ["onnx_mb"] = Math.Round(onnx.Length / 1e6, 1),
            ["threads"] = new JsonObject { ["torch"] = torch.get_num_threads(), ["onnxruntime_intra_op"] = threads, ["onnxruntime_inter_op"] = 1 },
            ["timing"] = $"{warmup} untimed run(s) per runtime, then the timed runs interleaved (TorchSharp, onnxruntime, alternating which goes first); " +
                         "one forward of a fixed random batch each, input already in memory, output not copied",
            ["ratio"] = "TorchSharp median / onnxruntime median (above 1: onnxruntime is faster)",
            ["batches"] = rows,
            ["machine"] = Machine(),
            // other processes on the machine slow both runtimes; interleaving keeps the ratio fair, not the absolute figures
            ["load_average_1min"] = new JsonObject { ["start"] = loadBefore, ["end"] = LoadAverage() },
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        Write(outFile, name, entry);
        Console.WriteLine($"wrote {outFile} ({name})");
        return 0;
    }

    private static MetaArch RandomModel(FastReidConfig cfg)
    {
        cfg.SetValue("MODEL.BACKBONE.PRETRAIN", false);
        int classes = cfg.Int("MODEL.HEADS.NUM_CLASSES");
        return MetaArchRegistry.BuildForInference(cfg, classes > 0 ? classes : 751); // the classifier is not on the evaluation path
    }

    private static JsonObject MeasureBatch(MetaArch model, InferenceSession session, int batch, long height, long width, int warmup, int reps, string name)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var images = (torch.rand([batch, 3, height, width], generator: new Generator((ulong)(1000 + batch))) * 255f).contiguous();
        var pixels = images.data<float>().ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, images.shape);
        using var runOptions = new RunOptions();
        var inputs = new Dictionary<string, OrtValue> { [BaselineOnnxWriter.InputName] = input };
        string[] outputNames = [BaselineOnnxWriter.OutputName];

        // the first warm-up run of each, compared as 'fastreid export' verifies: the sanity figure
        double maxRel = OnnxVerifier.Compare(model, session, images, "random uniform 0-255", tolerance: 1e-4).MaxRelativeError;
        for (int i = 1; i < warmup; i++)
        {
            model.forward(images).Dispose();
            session.Run(runOptions, inputs, outputNames).Dispose();
        }

        var torchMs = new List<double>(reps);
        var ortMs = new List<double>(reps);
        var watch = new Stopwatch();
        for (int r = 0; r < reps; r++)
        {
            for (int turn = 0; turn < 2; turn++)
            {
                if ((turn + r) % 2 == 0)
                {
                    watch.Restart();
                    model.forward(images).Dispose();
                    torchMs.Add(watch.Elapsed.TotalMilliseconds);
                }
                else
                {
                    watch.Restart();
                    session.Run(runOptions, inputs, outputNames).Dispose();
                    ortMs.Add(watch.Elapsed.TotalMilliseconds);
                }
            }
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench export {name} batch {batch}: rep {r + 1}/{reps}: TorchSharp {torchMs[^1]:F1} ms, onnxruntime {ortMs[^1]:F1} ms"));
        }
        var t = Summarise(torchMs, batch);
        var o = Summarise(ortMs, batch);
        double ratio = t.MedianMs / o.MedianMs;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} batch {batch}: TorchSharp median {t.MedianMs:F1} ms (p90 {t.P90Ms:F1}, {t.ImagesPerSecond:F1} images/s), " +
            $"onnxruntime median {o.MedianMs:F1} ms (p90 {o.P90Ms:F1}, {o.ImagesPerSecond:F1} images/s): ratio {ratio:F2}, max relative error {maxRel:E2}"));
        return new JsonObject
        {
            ["batch"] = batch,
            ["warmup"] = warmup,
            ["reps"] = reps,
            ["torchsharp"] = Json(t),
            ["onnxruntime"] = Json(o),
            ["ratio"] = Math.Round(ratio, 3),
            ["max_relative_error"] = double.Parse(maxRel.ToString("E2", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
        };
    }

    private static Timing Summarise(List<double> ms, int batch)
    {
        var sorted = ms.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        // nearest rank: the smallest value with at least 90% of the runs at or below it
        double p90 = sorted[Math.Max(0, (int)Math.Ceiling(0.9 * sorted.Length) - 1)];
        return new Timing(median, p90, batch * 1000.0 / median);
    }

    private static JsonObject Json(Timing t) => new()
    {
        ["median_ms"] = Math.Round(t.MedianMs, 2),
        ["p90_ms"] = Math.Round(t.P90Ms, 2),
        ["images_per_s"] = Math.Round(t.ImagesPerSecond, 2),
    };

    private static JsonObject Machine() => new()
    {
        ["cores"] = Environment.ProcessorCount,
        ["cpu"] = CpuModel(),
        ["os"] = RuntimeInformation.OSDescription,
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(3),
        ["libtorch"] = torch.__version__,
        ["onnxruntime"] = OrtEnv.Instance().GetVersionString(),
    };

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    /// <summary>Replaces this model's entry in <paramref name="outFile"/>, keeping the others.</summary>
    private static void Write(string outFile, string name, JsonObject entry)
    {
        JsonObject root;
        try
        {
            root = File.Exists(outFile) && JsonNode.Parse(File.ReadAllText(outFile)) is JsonObject existing && existing["models"] is JsonObject
                ? existing : Fresh();
        }
        catch (JsonException)
        {
            root = Fresh();
        }
        ((JsonObject)root["models"]!)[name] = entry;
        AtomicFile.WriteAllText(outFile, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        static JsonObject Fresh() => new()
        {
            ["benchmark"] = "onnx-export-cpu-latency",
            ["description"] = "onnxruntime (CPU EP) running the 'fastreid export' graph vs the TorchSharp model in eager mode, same input, same process",
            ["models"] = new JsonObject(),
        };
    }

    private static int[] Ints(string text, string option)
    {
        var values = text.Split(',').Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 1 ? v : -1).ToArray();
        return values.All(v => v >= 1) ? values : throw new CliUsageException($"{option} expects positive integers separated by commas (got '{text}')");
    }
}
