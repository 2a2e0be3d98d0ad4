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
        measured it with TEST.ROC.ENABLED) from metrics.json, and the ranked gallery (ranking.png: a few
        queries and their nearest gallery images, framed green for the same identity, red for another).
        For a sweep directory (fastreid tune's --out, with sweep.json): the objective per trial and
        against each searched parameter. For a `fastreid pipeline run` state folder (with objects/):
        every resource's phase, each DistillJob's teacher / student table with the KD gain over an
        experiment that trains the student alone, each TuneSweep's plots, each ExportJob's
        verification, and each experiment's run section (local outputs; s3:// ones are named, not
        fetched). Any other folder with run or sweep directories up to two levels below it gets a
        section for each.

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
