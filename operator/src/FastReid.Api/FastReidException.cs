namespace FastReid;

/// <summary>
/// An error caused by what the user gave us (a config key, a path, a file), with a message that says
/// what was wrong and where. Command-line front ends print the message without a stack trace.
/// </summary>
public class FastReidException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A setting this build cannot run at all (not a typo, not a transient fault): the trainer exits with
/// <see cref="ExitCode"/>, which the operator's Jobs never retry, and the message says which setting and why.
/// </summary>
public sealed class UnsupportedSettingException(string message) : FastReidException(message)
{
    /// <summary>The trainer's exit code for it (0 ok, 1 bad input, 2 usage, 3 export not faithful, 4 unsupported, 5 a peer rank lost).</summary>
    public const int ExitCode = 4;
}

/// <summary>
/// Inputs that contradict what they name, which no retry can fix: a resume of a checkpoint trained with another
/// config, a distillation teacher whose file no longer has the digest the config gives. The trainer exits with
/// <see cref="ExitCode"/>, the usage code, which the operator's Jobs fail at once on.
/// </summary>
public sealed class InputRefusedException(string message) : FastReidException(message)
{
    public const int ExitCode = 2;
}
