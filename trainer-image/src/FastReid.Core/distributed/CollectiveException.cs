namespace FastReid.Distributed;

/// <summary>
/// A collective call failed on some rank; <see cref="Rank"/> is the rank at fault (the one that left, went
/// silent or disagreed), which is not necessarily the rank that noticed first.
/// </summary>
public class CollectiveException(int rank, string message, Exception? inner = null) : FastReidException(message, inner)
{
    /// <summary>
    /// The trainer's exit code when its collectives fail: not one the operator's podFailurePolicy fails the Job
    /// on, so the Job retries and every rank resumes from the newest checkpoint.
    /// </summary>
    public override int ExitCode => ExitCodes.PeerLost;

    public int Rank { get; } = rank;
}

/// <summary>A rank closed its connection or stayed silent longer than the peer timeout.</summary>
public sealed class PeerLostException(int rank, string message, Exception? inner = null) : CollectiveException(rank, message, inner);
