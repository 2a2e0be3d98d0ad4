using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Config;
using FastReid.Data;
using FastReid.Engine;
using FastReid.Storage;

namespace FastReid.Cli.Commands;

internal static class BenchTrainCommand
{
    public static readonly CliCommand Definition = new("bench train",
        "training steps/s with the real input pipeline vs pre-made tensors",
        """
        Usage: fastreid bench train --config FILE [--steps N] [--rounds R] [--warmup W] [--premade-only] [--out FILE] [KEY VALUE ...]

        Builds the run the config describes, then alternates R rounds of N training steps fed by the
        real input pipeline (decode, augment, prefetch on worker threads) with N steps that reuse one
        pre-made batch tensor, for the same model and batch, in the same process. Prints steps/s of
        both and their ratio (goal: pipeline / pre-made >= 0.95) and writes them as JSON to --out, with
        the pre-made steps' seconds in forward (with the losses), backward and the optimizer step. With
        --premade-only, only the pre-made steps run (bench/train-vs-pytorch.sh compares them with PyTorch's).

        Options:
          --config FILE   FastReID YAML config (required)
          --steps N       steps per round and mode (default 10)
          --rounds R      alternating rounds (default 3)
          --warmup W      untimed steps of each mode first (default 3)
          --premade-only  time the pre-made steps alone (no pipeline rounds, no ratio)
          --out FILE      JSON result (default bench/results/train.json)
        """,
        ["premade-only"], Run);

    private static int Run(CliArgs args)
    {
        var configPath = args.Require("config");
        int steps = args.Int("steps", 10), rounds = args.Int("rounds", 3), warmup = args.Int("warmup", 3);
        bool premadeOnly = args.Flag("premade-only");
        var outFile = args.Option("out") ?? Path.Combine("bench", "results", "train.json");
        args.EnsureAllUsed();
        if (steps < 1 || rounds < 1) throw new CliUsageException("--steps and --rounds must be at least 1");
        if (warmup < 0) throw new CliUsageException("--warmup must be at least 0");
        var cfg = ConfigLoader.Load(configPath, args.Positionals);
        var scratch = Path.Combine(Path.GetTempPath(), $"fastreid-bench-{Environment.ProcessId}");
        cfg.SetValue("OUTPUT_DIR", scratch);
        try
        {
            using var run = RunContext.Create(cfg, Console.Out, interactive: false, metricsPort: null);
            using var session = new TrainingSession(cfg, run);
            using var loader = session.CreateLoader();
            var premade = loader.Next();
            long iteration = 0;
            void Step(Batch batch)
            {
                session.Step.SetLearningRate(iteration, 0); // what the trainer's LRScheduler hook does before each step
                session.Step.Run(batch, iteration++, 0);
            }
            for (int i = 0; i < warmup; i++) Step(premade); // warm-up: allocator, kernels, caches
            if (!premadeOnly) for (int i = 0; i < warmup; i++) Step(loader.Next());
            double premadeSeconds = 0, pipelineSeconds = 0;
            double forward = 0, backward = 0, optimizer = 0; // the pre-made steps' profile
            var phases = session.Step.Phases;
            for (int r = 0; r < rounds; r++)
            {
                (double f0, double b0, double o0) = (phases.ForwardSeconds, phases.BackwardSeconds, phases.OptimizerSeconds);
                var watch = Stopwatch.StartNew();
                for (int i = 0; i < steps; i++) Step(premade);
                premadeSeconds += watch.Elapsed.TotalSeconds;
                (forward, backward, optimizer) = (forward + phases.ForwardSeconds - f0, backward + phases.BackwardSeconds - b0, optimizer + phases.OptimizerSeconds - o0);
                if (premadeOnly) continue;
                watch.Restart();
                for (int i = 0; i < steps; i++) Step(loader.Next());
                pipelineSeconds += watch.Elapsed.TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {r + 1}/{rounds}: pre-made {steps / (premadeSeconds / (r + 1)):F3} steps/s, pipeline {steps / (pipelineSeconds / (r + 1)):F3} steps/s"));
            }
            double premadeRate = steps * rounds / premadeSeconds, pipelineRate = steps * rounds / pipelineSeconds;
            var result = new JsonObject
            {
                ["benchmark"] = premadeOnly ? "train-step-premade" : "train-step-input-pipeline",
                ["command"] = "fastreid bench train --config " + configPath + (premadeOnly ? " --premade-only" : "") + (args.Positionals.Count > 0 ? " " + string.Join(" ", args.Positionals) : ""),
                ["model"] = $"ResNet-{cfg.String("MODEL.BACKBONE.DEPTH")}",
                ["batch"] = session.BatchSize,
                ["classes"] = session.Model.NumClasses,
                ["input"] = new JsonArray(cfg.Ints("INPUT.SIZE_TRAIN").Select(v => (JsonNode)v).ToArray()),
                ["threads"] = TorchSharp.torch.get_num_threads(),
                ["workers"] = cfg.Int("DATALOADER.NUM_WORKERS"),
                ["steps_per_mode"] = steps * rounds,
                ["premade_steps_per_s"] = Math.Round(premadeRate, 4),
                ["premade_seconds_per_step"] = new JsonObject
                {
                    ["forward_with_loss"] = Math.Round(forward / (steps * rounds), 4),
                    ["backward"] = Math.Round(backward / (steps * rounds), 4),
                    ["optimizer"] = Math.Round(optimizer / (steps * rounds), 4),
                },
            };
            if (premadeOnly)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pre-made {premadeRate:F3} steps/s"));
            else
            {
                result["pipeline_steps_per_s"] = Math.Round(pipelineRate, 4);
                result["pipeline_images_per_s"] = Math.Round(pipelineRate * session.BatchSize, 2);
                result["ratio"] = Math.Round(pipelineRate / premadeRate, 4);
                result["goal"] = ">= 0.95";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"pre-made {premadeRate:F3} steps/s, pipeline {pipelineRate:F3} steps/s ({pipelineRate * session.BatchSize:F1} images/s): ratio {pipelineRate / premadeRate:F3}"));
            }
            result["machine"] = $"{Environment.ProcessorCount} cores";
            result["date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            AtomicFile.WriteAllText(outFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            Console.WriteLine($"wrote {outFile}");
            return 0;
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        }
    }
}
