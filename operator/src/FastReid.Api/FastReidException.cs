namespace FastReid;

/// <summary>
/// The exit codes of every <c>fastreid</c> command: the one contract between the trainer, the local runner and
/// the operator's Jobs (whose podFailurePolicy fails a Job at once on <see cref="Usage"/>, <see cref="Unsupported"/>
/// and, for exports, <see cref="VerificationFailed"/>: retrying would only repeat them).
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>Bad input met while running (a dataset, an image, an .npz or weights file, storage): a retry may find it fixed.</summary>
    public const int BadInput = 1;
    /// <summary>
    /// Wrong usage: a command-line option, a config key or value (unknown, of the wrong type, out of its stated range,
    /// a local file it names that does not exist), or inputs that contradict what they name. Found before any data is read.
    /// </summary>
    public const int Usage = 2;
    /// <summary>An export that onnxruntime does not reproduce within the tolerance.</summary>
    public const int VerificationFailed = 3;
    /// <summary>A setting this build cannot run at all.</summary>
    public const int Unsupported = 4;
    /// <summary>A peer rank of a data-parallel run was lost; the Job's retry resumes every rank from the checkpoint.</summary>
    public const int PeerLost = 5;
}

/// <summary>
/// An error caused by what the user gave us (a config key, a path, a file), with a message that says
/// what was wrong and where. Command-line front ends print the message without a stack trace and exit with
/// <see cref="ExitCode"/>.
/// </summary>
public class FastReidException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The command's exit code for it (<see cref="ExitCodes"/>): bad input unless a subclass says otherwise.</summary>
    public virtual int ExitCode => ExitCodes.BadInput;
}

/// <summary>
/// A setting this build cannot run at all (not a typo, not a transient fault): the trainer exits with
/// <see cref="ExitCodes.Unsupported"/>, which the operator's Jobs never retry, and the message says which setting and why.
/// </summary>
public sealed class UnsupportedSettingException(string message) : FastReidException(message)
{
    public override int ExitCode => ExitCodes.Unsupported;
}

/// <summary>
/// Inputs that contradict what they name, which no retry can fix: a resume of a checkpoint trained with another
/// config, a distillation teacher whose file no longer has the digest the config gives. The trainer exits with
/// <see cref="ExitCodes.Usage"/>, which the operator's Jobs fail at once on.
/// </summary>
public sealed class InputRefusedException(string message) : FastReidException(message)
{
    public override int ExitCode => ExitCodes.Usage;
}
