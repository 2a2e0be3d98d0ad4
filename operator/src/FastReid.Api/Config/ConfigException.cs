namespace FastReid.Config;

/// <summary>
/// A config problem tied to one key (or file), e.g. an unknown key, a value of the wrong type or out of its range, a
/// local file the key names that does not exist. Found before any data is read, and a retry would only repeat it:
/// the usage exit code, which the operator's Jobs fail at once on.
/// </summary>
public sealed class ConfigException(string message, string? key = null) : FastReidException(message)
{
    public string? Key { get; } = key;

    public override int ExitCode => ExitCodes.Usage;
}
