using FastReid.Cli.Launch;
using FastReid.Cli.Tune;

namespace FastReid.Cli.Commands;

internal static class TuneCommand
{
    public static readonly CliCommand Definition = new("tune",
        "run a TuneSweep manifest's hyperparameter search on this machine",
        """
        Usage: fastreid tune -f SWEEP.yaml [--out DIR] [--parallelism N] [--trial-command CMD]

        Runs the TuneSweep's search as the operator does (the same validation, algorithm and rules:
        parallelism, maxTrials, maxFailedTrials, score = (mAP + rank1) / 2), with each trial a local
        `fastreid train` process in DIR/trials/NNNN/ (its config.yaml: the template's config, the
        sampled values, the budget key, and DATASETS.VALIDATION.IDENTITY_FRACTION / SEED from
        spec.validation and spec.algorithm.seed, so trials are scored on held-out training identities).
        A Synthetic dataset is written once to DIR/data. A promoted trial resumes its own checkpoint
        with the larger budget. When the search ends, the best configuration is trained once more with
        validation off, as DIR/best/, and its test-set metrics are reported apart from the validation
        objective.

        Rerunning the same command continues: finished trials are kept, trials that were running are
        started again (training trials from their checkpoints). A folder started with another manifest
        is refused. Ctrl-C (or SIGTERM) stops every trial process; rerun to continue.

        DIR/sweep.json (rewritten after every change) lists every trial (id, params, budget, objective,
        status, message), the best, the total budget spent, the outcome and the test metrics.

        Options:
          -f, --file FILE        the TuneSweep manifest (YAML, as for kubectl apply; required)
          --out DIR              the sweep's folder (default ./<metadata.name>)
          --parallelism N        trials at once, instead of spec.parallelism
          --trial-command CMD    tune a black box: each trial runs CMD with /bin/sh -c in its folder,
                                 with FASTREID_TRIAL_PARAMS (a JSON object of the sampled values by
                                 config key), FASTREID_TRIAL_BUDGET, FASTREID_TRIAL_ID and
                                 FASTREID_TRIAL_DIR (kept across the trial's promotions). The last line
                                 of its stdout must be {"objective": NUMBER}; a non-zero exit or any
                                 other last line fails the trial. stdout.log and stderr.log stay in
                                 the trial's folder. No test-set run in this mode.

        Exit codes: 0 the sweep succeeded, 1 it failed or the manifest is invalid (each problem named
        FILE: FIELD: message), 2 usage, 130/143 stopped by SIGINT/SIGTERM.
        """,
        [], Run);

    private static int Run(CliArgs args)
    {
        // -f FILE as kubectl writes it (the parser reads single-dash words as positionals)
        var shortFile = args.Positionals is ["-f", var f, ..] ? f : null;
        if (args.Positionals is ["-f"]) throw new CliUsageException("option -f needs a value");
        var longFile = args.Option("file");
        if (shortFile is not null && longFile is not null) throw new CliUsageException("give the manifest once, with -f or --file");
        var file = shortFile ?? longFile ?? throw new CliUsageException("option -f (the TuneSweep manifest) is required");
        var outDir = args.Option("out");
        int? parallelism = args.Option("parallelism") is null ? null : args.Int("parallelism", 1);
        if (parallelism is < 1 or > 256) throw new CliUsageException($"option --parallelism expects an integer in [1, 256], got {parallelism}");
        var command = args.Option("trial-command");
        if (command is { } c && string.IsNullOrWhiteSpace(c)) throw new CliUsageException("option --trial-command needs a command");
        args.EnsureAllUsed();
        if (args.Positionals.Skip(shortFile is null ? 0 : 2).FirstOrDefault() is { } extra) throw new CliUsageException($"unexpected argument '{extra}'");

        var manifest = SweepManifest.Load(file, training: command is null);
        if (parallelism is { } n) manifest.Sweep.Spec.Parallelism = n;
        var name = manifest.Sweep.Metadata.Name;
        if (outDir is null && string.IsNullOrEmpty(name))
            throw new FastReidException($"{file}: metadata.name is required to name the sweep's folder (or give --out DIR)");
        var dir = Path.GetFullPath(outDir ?? name!);

        using var signals = new StopSignals(); // the trials are stopped first, then this process returns
        var sweep = new LocalSweep(manifest, new LocalSweepOptions(dir, parallelism, command), Console.Out, terminal: !Console.IsOutputRedirected);
        return sweep.RunAsync(signals.Token, () => signals.ExitCode).GetAwaiter().GetResult();
    }
}
