using FastReid.Contracts;
using FastReid.Storage;

namespace FastReid.Engine;

/// <summary>
/// Where a run's <see cref="RunResult"/> goes: the path given, else <c>$FASTREID_RESULT_FILE</c> (a pod's
/// <c>/dev/termination-log</c>), else the default (<c>OUTPUT_DIR/result.json</c> for training).
/// </summary>
public static class ResultFile
{
    public const string EnvironmentVariable = "FASTREID_RESULT_FILE";

    public static string? FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } path ? path : null;

    /// <summary>Writes the result; returns the path written. Device files are written in place (they cannot be renamed onto).</summary>
    public static string Write(RunResult result, string target)
    {
        var text = result.ToJson();
        if (target.StartsWith("/dev/", StringComparison.Ordinal)) File.WriteAllText(target, text);
        else AtomicFile.WriteAllText(target, text + "\n");
        return target;
    }
}
