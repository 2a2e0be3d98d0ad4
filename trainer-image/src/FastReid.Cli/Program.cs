using FastReid;
using FastReid.Cli;
using FastReid.Cli.Commands;
using FastReid.Cli.Launch;

// everything this process prints passes the one redaction (URL credentials, presigned-URL signatures, the
// values of secret environment variables): error messages quote URIs and endpoints as the user gave them
var redactor = Redactor.ForProcess();
Console.SetOut(new RedactingWriter(Console.Out, redactor));
Console.SetError(new RedactingWriter(Console.Error, redactor));
string running = "";
CommandErrors.ExitOnUnhandled(() => running);
LauncherWatch.StartIfWorker();

CliCommand[] commands =
[
    TrainCommand.Definition,
    EvaluateCommand.Definition,
    EmbedCommand.Definition,
    ExportCommand.Definition,
    DataSynthCommand.Definition,
    TuneCommand.Definition,
    PipelineCommand.Run,
    PipelineCommand.Status,
    ReportCommand.Definition,
    BenchTrainCommand.Definition,
    BenchExportCommand.Definition,
    BenchCollectivesCommand.Definition,
    BenchTuneCommand.Definition,
];

try
{
    return Dispatch(args);
}
finally
{
    Console.Out.Flush();
    Console.Error.Flush();
}

int Dispatch(string[] argv)
{
    if (argv.Length == 0 || argv[0] is "--help" or "-h" or "help")
    {
        PrintOverview();
        return argv.Length == 0 ? 2 : 0;
    }
    if (argv[0] == "--version")
    {
        Console.WriteLine(typeof(CliCommand).Assembly.GetName().Version);
        return 0;
    }
    var command = commands
        .Where(c => c.Name.Split(' ') is var words && argv.Length >= words.Length && words.SequenceEqual(argv.Take(words.Length)))
        .MaxBy(c => c.Name.Length);
    if (command is null)
    {
        var group = commands.Where(c => c.Name.StartsWith(argv[0] + " ", StringComparison.Ordinal)).ToList();
        if (group.Count > 0)
        {
            Console.Error.WriteLine($"fastreid {argv[0]}: expected one of: {string.Join(", ", group.Select(c => c.Name))}");
            return 2;
        }
        var closest = commands.MinBy(c => CliArgs.Levenshtein(c.Name, argv[0]))!;
        Console.Error.WriteLine($"fastreid: unknown command '{argv[0]}' (did you mean '{closest.Name}'?). Run 'fastreid --help'.");
        return 2;
    }
    running = command.Name;
    var rest = argv.Skip(command.Name.Split(' ').Length).ToArray();
    try
    {
        var parsed = CliArgs.Parse(rest, command.Flags);
        if (parsed.Help)
        {
            Console.WriteLine(command.Usage.TrimEnd());
            return 0;
        }
        return command.Run(parsed);
    }
    catch (CliUsageException e)
    {
        Console.Error.WriteLine($"fastreid {command.Name}: {e.Message}");
        Console.Error.WriteLine();
        Console.Error.WriteLine(command.Usage.TrimEnd());
        return ExitCodes.Usage;
    }
    catch (Exception e)
    {
        return CommandErrors.Report(command.Name, e, Console.Error, CommandErrors.DebugRequested);
    }
}

void PrintOverview()
{
    Console.WriteLine("fastreid — FastReID training, evaluation and export on TorchSharp");
    Console.WriteLine();
    Console.WriteLine("Usage: fastreid COMMAND [OPTIONS]   (fastreid COMMAND --help for details)");
    Console.WriteLine();
    foreach (var c in commands) Console.WriteLine($"  {c.Name,-16} {c.Summary}");
}
