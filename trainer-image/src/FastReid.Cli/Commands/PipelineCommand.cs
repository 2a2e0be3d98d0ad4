using FastReid.Api.V1Alpha1;
using FastReid.Cli.Launch;
using FastReid.Cli.Pipeline;
using FastReid.Pipeline;

namespace FastReid.Cli.Commands;

/// <summary><c>fastreid pipeline run</c> and <c>fastreid pipeline status</c>: the operator's planners on this machine.</summary>
internal static class PipelineCommand
{
    public const string DefaultState = ".fastreid-pipeline";

    public static readonly CliCommand Run = new("pipeline run",
        "run ReidExperiment, DistillJob, TuneSweep and ExportJob manifests on this machine",
        """
        Usage: fastreid pipeline run -f FILE [-f FILE...] [--state DIR] [--parallel N] [--output URI]

        Runs the manifests (multi-document YAML, as for kubectl apply) with the operator's own planners:
        each planned Job's pods are local `fastreid` processes (the container's command, args and env;
        the rank-0 result file is the termination message), and every object the operator would keep
        on the cluster (the resources, their ConfigMaps, Jobs, pods, a DistillJob's student and a
        TuneSweep's trials) is a JSON file of the state folder. References resolve as on a cluster: a
        DistillJob waits for its teacher, an ExportJob for its source, in the same manifests or in the
        state folder. Manifests are validated as the operator validates them, each problem naming the
        file and the document; a reference to an experiment that is nowhere is an error.

        Rerunning continues: finished work is kept, pods that were running (Ctrl-C, a crash, SIGKILL)
        are ended and started again, and a training resumes from its checkpoint. A changed spec is a new
        generation, as kubectl apply makes it. Ctrl-C (or SIGTERM) stops every pod's processes.
        When it ends, STATE/report/report.html is written (as `fastreid report STATE` writes it).

        Storage: s3:// works as in the trainer (credentials from AWS_ACCESS_KEY_ID and
        AWS_SECRET_ACCESS_KEY, read where a spec names a Secret); local folders (absolute paths) work too
        on this machine; pvc:// does not.

        Options:
          -f FILE             a manifest (repeat -f for more; --file FILE once)
          --state DIR         the state folder (default ./.fastreid-pipeline)
          --parallel N        Jobs run at once (default 1: on a 2-core machine one training at a time
                              is fastest; raise it with the cores)
          --output URI        storage for resources without spec.output, as the operator's
                              --default-storage: they write to URI/NAMESPACE/NAME (default STATE/outputs)

        Exit codes: 0 every resource succeeded, 1 one failed, cannot go on, or the manifests are invalid,
        2 usage, 130/143 stopped by SIGINT/SIGTERM.
        """,
        [], RunPipeline);

    public static readonly CliCommand Status = new("pipeline status",
        "print the state folder's resources as kubectl get does",
        """
        Usage: fastreid pipeline status [--state DIR]

        One table per kind: NAME and the columns kubectl get shows for it (phase, the headline metrics,
        age), from the state folder of `fastreid pipeline run` (default ./.fastreid-pipeline).
        """,
        [], ShowStatus);

    private static int RunPipeline(CliArgs args)
    {
        var files = new List<string>();
        var rest = args.Positionals.ToList();
        for (int i = 0; i < rest.Count; i++)
        {
            if (rest[i] != "-f") throw new CliUsageException($"unexpected argument '{rest[i]}'");
            if (i + 1 >= rest.Count) throw new CliUsageException("option -f needs a value");
            files.Add(rest[++i]);
        }
        if (args.Option("file") is { } file) files.Add(file);
        if (files.Count == 0) throw new CliUsageException("option -f (a manifest) is required");
        var state = Path.GetFullPath(args.Option("state") ?? DefaultState);
        int parallel = args.Option("parallel") is null ? 1 : args.Int("parallel", 1);
        if (parallel is < 1 or > 256) throw new CliUsageException($"option --parallel expects an integer in [1, 256], got {parallel}");
        var storage = args.Option("output") ?? Path.Combine(state, "outputs");
        args.EnsureAllUsed();

        var errors = new List<FieldError>();
        if (StorageLocation.TryParse(storage, out var error) is null) errors.Add(new("--output", error!));
        Validation.CheckLocalLocation(storage, "--output", errors);
        if (errors.Count > 0) throw new CliUsageException(string.Join("; ", errors.Select(e => e.ToString())));

        var options = new PlannerOptions { OneMachine = true, DefaultStorage = new OutputSpec { Uri = storage } };
        var cluster = LocalCluster.Open(state);
        var manifests = PipelineManifest.Load(files, options, (ns, name) => cluster.Get<ReidExperiment>(ns, name) is not null);
        using var signals = new StopSignals(); // the pods are stopped first, then this process returns
        return new PipelineRunner(cluster, options, parallel, Console.Out).RunAsync(manifests, signals.Token, () => signals.ExitCode).GetAwaiter().GetResult();
    }

    private static int ShowStatus(CliArgs args)
    {
        var state = Path.GetFullPath(args.Option("state") ?? DefaultState);
        args.EnsureAllUsed();
        if (args.Positionals.FirstOrDefault() is { } extra) throw new CliUsageException($"unexpected argument '{extra}'");
        if (!Directory.Exists(Path.Combine(state, "objects"))) throw new FastReidException($"{state} is not a pipeline state folder (no objects/ in it); give --state DIR");
        PipelineTable.Write(LocalCluster.Open(state), Console.Out, DateTimeOffset.UtcNow);
        return 0;
    }
}
