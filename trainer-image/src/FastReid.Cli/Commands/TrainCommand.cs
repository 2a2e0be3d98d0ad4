using FastReid.Cli.Launch;
using FastReid.Config;
using FastReid.Engine;

namespace FastReid.Cli.Commands;

internal static class TrainCommand
{
    public static readonly CliCommand Definition = new("train",
        "train a model from a FastReID config",
        """
        Usage: fastreid train --config FILE [--resume] [--metrics-port PORT] [--nproc-per-node N] [KEY VALUE ...]

        Trains the model the config describes (FastReID keys; _BASE_ inheritance) on the datasets in
        DATASETS.NAMES under $FASTREID_DATASETS, evaluating on DATASETS.TESTS every TEST.EVAL_PERIOD
        epochs and at the end (with DATASETS.VALIDATION.IDENTITY_FRACTION above 0: on that fraction of the
        training identities, held out, and the test set is not read). Trailing KEY VALUE pairs override the
        config, as in FastReID:
          fastreid train --config configs/Synthetic/bagtricks_R18-cpu.yml SOLVER.MAX_EPOCH 5 OUTPUT_DIR out/r18

        Writes to OUTPUT_DIR: config.yaml (the effective config), log.txt, model_best.pth and
        model_final.pth (PyTorch state dicts), metrics.json, manifest.json, and the result JSON to
        $FASTREID_RESULT_FILE (default OUTPUT_DIR/result.json).

        Options:
          --config FILE        FastReID YAML config (required)
          --resume             continue from the newest valid checkpoint in OUTPUT_DIR (also: RESUME auto
                               in the config); with none, start from scratch. A checkpoint trained with
                               another config is refused (exit code 2) naming each key with both values,
                               unless only keys safe to change differ: SOLVER.MAX_EPOCH (not below the
                               epochs done), SOLVER.CHECKPOINT_PERIOD, TEST.EVAL_PERIOD, TEST.IMS_PER_BATCH,
                               DATALOADER.NUM_WORKERS, MODEL.DEVICE, CUDNN_BENCHMARK, OUTPUT_DIR, RESUME.
                               With $FASTREID_RUN_ID set (the operator sets its run's name), only
                               checkpoints of that run are resumed (others are passed over)
          --metrics-port PORT  serve Prometheus training metrics on this port
          --nproc-per-node N   data-parallel: start N worker processes on this node (one per GPU; worker i
                               uses cuda:i), each running this command without this option, as torchrun
                               does: LOCAL_RANK i, RANK NODE_RANK x N + i, WORLD_SIZE NNODES x N (NNODES and
                               NODE_RANK from the environment, default 1 and 0), MASTER_ADDR and MASTER_PORT
                               (on one node 127.0.0.1 and a free port unless set; required with NNODES > 1).
                               Also read from NPROC_PER_NODE. Rank 0's output passes through, other ranks'
                               lines are prefixed [rank R]; rank 0 writes the outputs and the result. The first
                               worker to fail stops the others and its exit code is this command's.
                               N = 1 (the default) trains in this process.
        """,
        ["resume"], Run);

    private static int Run(CliArgs args)
    {
        var configPath = args.Require("config");
        bool resume = args.Flag("resume");
        int? metricsPort = args.Option("metrics-port") is null ? null : args.Int("metrics-port", 0);
        int? nprocFlag = args.Option("nproc-per-node") is null ? null : args.Int("nproc-per-node", 1);
        args.EnsureAllUsed();
        int procsPerNode = WorkerEnvironment.ProcsPerNode(nprocFlag, Environment.GetEnvironmentVariable);
        if (procsPerNode > 1) return WorkerLauncher.LaunchSelf(["train", .. args.Without("nproc-per-node")], procsPerNode);
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
