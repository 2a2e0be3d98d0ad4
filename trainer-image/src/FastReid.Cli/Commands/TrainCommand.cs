using FastReid.Config;
using FastReid.Engine;

namespace FastReid.Cli.Commands;

internal static class TrainCommand
{
    public static readonly CliCommand Definition = new("train",
        "train a model from a FastReID config",
        """
        Usage: fastreid train --config FILE [--resume] [--metrics-port PORT] [KEY VALUE ...]

        Trains the model the config describes (FastReID keys; _BASE_ inheritance) on the datasets in
        DATASETS.NAMES under $FASTREID_DATASETS, evaluating on DATASETS.TESTS every TEST.EVAL_PERIOD
        epochs and at the end. Trailing KEY VALUE pairs override the config, as in FastReID:
          fastreid train --config configs/Synthetic/bagtricks_R18-cpu.yml SOLVER.MAX_EPOCH 5 OUTPUT_DIR out/r18

        Writes to OUTPUT_DIR: config.yaml (the effective config), log.txt, model_best.pth and
        model_final.pth (PyTorch state dicts), metrics.json, manifest.json, and the result JSON to
        $FASTREID_RESULT_FILE (default OUTPUT_DIR/result.json).

        Options:
          --config FILE        FastReID YAML config (required)
          --resume             continue from the newest valid checkpoint in OUTPUT_DIR (also: RESUME auto
                               in the config); with none, start from scratch
          --metrics-port PORT  serve Prometheus training metrics on this port
        """,
        ["resume"], Run);

    private static int Run(CliArgs args)
    {
        var configPath = args.Require("config");
        bool resume = args.Flag("resume");
        int? metricsPort = args.Option("metrics-port") is null ? null : args.Int("metrics-port", 0);
        args.EnsureAllUsed();
        var cfg = ConfigLoader.Load(configPath, args.Positionals);
        resume |= cfg.String("RESUME") == "auto";
        var outcome = DefaultTrainer.Train(cfg, new TrainOptions(Resume: resume, MetricsPort: metricsPort));
        if (!outcome.IsMain) return 0; // rank 0 reports for the run
        if (outcome.Final is { } m)
            MetricsTable.Print(Console.Out, m, $"final ({outcome.Epochs} epochs)", outcome.Best, outcome.BestEpoch);
        Console.WriteLine($"weights sha256 {outcome.WeightsSha256}");
        return 0;
    }
}
