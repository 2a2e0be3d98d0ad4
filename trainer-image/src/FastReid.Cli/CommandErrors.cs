using System.Diagnostics;
using System.Reflection;

namespace FastReid.Cli;

/// <summary>
/// The edge of every command: whatever escapes a command becomes one line on stderr and an exit code of
/// <see cref="ExitCodes"/>, never a stack trace or an abort. A <see cref="FastReidException"/> (what the user gave
/// was wrong) prints its message and exits with its code; anything else is a bug of ours, printed as one line
/// naming the exception's type and where it was thrown, exit code 1. <c>FASTREID_DEBUG=1</c> adds the stack trace to
/// either.
/// </summary>
internal static class CommandErrors
{
    public const string DebugVariable = "FASTREID_DEBUG";

    /// <summary>True when <c>FASTREID_DEBUG=1</c>: every error is followed by its stack trace.</summary>
    public static bool DebugRequested => Environment.GetEnvironmentVariable(DebugVariable) == "1";

    /// <summary>Writes the line for <paramref name="error"/>, which ended <c>fastreid <paramref name="command"/></c>; returns the exit code.</summary>
    public static int Report(string command, Exception error, TextWriter stderr, bool debug)
    {
        var e = Unwrap(error);
        var prefix = command.Length == 0 ? "fastreid: error:" : $"fastreid {command}: error:";
        int code;
        if (e is FastReidException user)
        {
            stderr.WriteLine($"{prefix} {user.Message}");
            code = user.ExitCode;
        }
        else
        {
            stderr.WriteLine(e is OutOfMemoryException || e.Message.Contains("allocate", StringComparison.OrdinalIgnoreCase)
                ? $"{prefix} out of memory ({OneLine(e.Message)}): use smaller INPUT.SIZE_TRAIN/INPUT.SIZE_TEST or batches"
                : $"{prefix} {OneLine(e.Message)} (internal error: {e.GetType().Name} at {Where(e)}; please report it; " +
                  $"{DebugVariable}=1 prints the stack trace)");
            code = ExitCodes.BadInput;
        }
        if (debug) stderr.WriteLine(error);
        return code;
    }

    /// <summary>
    /// For exceptions thrown on threads that are not the command's (a worker thread's, a timer's): without this
    /// the runtime would abort the process (exit 134) with a stack trace.
    /// </summary>
    public static void ExitOnUnhandled(Func<string> command) =>
        AppDomain.CurrentDomain.UnhandledException += (_, args) =>
        {
            int code = args.ExceptionObject is Exception e ? Report(command(), e, Console.Error, DebugRequested) : ExitCodes.BadInput;
            Console.Error.Flush();
            Environment.Exit(code);
        };

    /// <summary>The user's error inside the wrappers tasks, reflection and static constructors put around it.</summary>
    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException aggregate:
                    var inner = aggregate.Flatten().InnerExceptions;
                    if (inner.Count == 0) return e;
                    e = inner.FirstOrDefault(i => Unwrap(i) is FastReidException) ?? inner[0];
                    continue;
                case TargetInvocationException or TypeInitializationException when e.InnerException is { } cause:
                    e = cause;
                    continue;
                default:
                    return e;
            }
        }
    }

    private static string Where(Exception e)
    {
        var frame = new StackTrace(e, fNeedFileInfo: true).GetFrames().FirstOrDefault(f => f.GetFileName() is not null);
        if (frame is not null) return $"{Path.GetFileName(frame.GetFileName())}:{frame.GetFileLineNumber()}";
        var method = e.TargetSite;
        return method is null ? "an unknown place" : $"{method.DeclaringType?.Name}.{method.Name}";
    }

    private static string OneLine(string text) =>
        string.Join("; ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
