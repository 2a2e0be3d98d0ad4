namespace FastReid.Cli.Commands;

internal static class ReportCommand
{
    public static readonly CliCommand Definition = new("report",
        "write report.html with the plots of a run or pipeline directory",
        """
        Usage: fastreid report RUN_OR_PIPELINE_DIR [--out DIR]

        Writes DIR/report.html and its PNG figures (one self-contained folder, relative links: copy it
        anywhere, open it in a browser). For a run directory (a training's OUTPUT_DIR): the loss and
        learning-rate curves and mAP / rank-1 per evaluation from its TensorBoard event files
        (events.out.tfevents.*), the final metrics, the CMC points and the ROC (TPR@FPR, when the run
        measured it with TEST.ROC.ENABLED) from metrics.json. For a sweep directory (fastreid tune's
        --out, with sweep.json): the objective per trial and against each searched parameter. A
        pipeline directory is any folder with run or sweep directories up to two levels below it: each
        gets its own section.

        Options:
          --out DIR   folder to write (default RUN_OR_PIPELINE_DIR/report)
        """,
        [], Run);

    private static int Run(CliArgs args)
    {
        if (args.Positionals.Count != 1) throw new CliUsageException("expected one RUN_OR_PIPELINE_DIR");
        var dir = args.Positionals[0];
        if (!Directory.Exists(dir)) throw new CliUsageException($"{dir}: no such directory (expected a run or pipeline directory)");
        var outDir = args.Option("out") ?? Path.Combine(dir, "report");
        args.EnsureAllUsed();
        var page = Report.Report.Write(dir, outDir);
        Console.WriteLine($"report written to {Path.GetFullPath(page)}");
        return 0;
    }
}
