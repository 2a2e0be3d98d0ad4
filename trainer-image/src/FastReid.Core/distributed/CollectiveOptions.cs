using System.Globalization;

namespace FastReid.Distributed;

/// <summary>
/// Timeouts and sizes of the collectives. Defaults suit a training run; tests shorten the timeouts.
/// </summary>
public sealed record CollectiveOptions
{
    /// <summary>Environment variable that overrides <see cref="PeerTimeout"/> and <see cref="RendezvousTimeout"/>, in seconds.</summary>
    public const string TimeoutVariable = "FASTREID_DIST_TIMEOUT";

    /// <summary>
    /// How long a peer may send nothing during a call before it counts as lost. Ranks inside a call send
    /// heartbeats, so this bounds how far one rank may lag behind the others (a slow step, a long
    /// evaluation on rank 0), not how long a transfer may take.
    /// </summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a rank keeps trying to reach MASTER_ADDR:MASTER_PORT and waits for the others to join.</summary>
    public TimeSpan RendezvousTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Pipelining unit: a ring step sends and receives in frames of this size, reducing each on arrival.</summary>
    public int SegmentBytes { get; init; } = 1 << 20;

    /// <summary>Where this rank's ring listener binds; null takes the local address of its rendezvous connection.</summary>
    public string? ListenAddress { get; init; }

    /// <summary>Heartbeats go out several times per timeout so one late packet is not taken for a dead peer.</summary>
    internal TimeSpan HeartbeatInterval => TimeSpan.FromTicks(Math.Clamp(PeerTimeout.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(10).Ticks));

    /// <summary>The defaults with the environment's overrides (the one place the collectives read the environment).</summary>
    public static CollectiveOptions FromEnvironment(Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        var options = new CollectiveOptions();
        var raw = getEnv(TimeoutVariable);
        if (string.IsNullOrWhiteSpace(raw)) return options;
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
            throw new FastReidException($"environment variable {TimeoutVariable}='{raw}' is not a positive number of seconds");
        var timeout = TimeSpan.FromSeconds(seconds);
        return options with { PeerTimeout = timeout, RendezvousTimeout = timeout };
    }

    internal void Validate()
    {
        if (PeerTimeout <= TimeSpan.Zero) throw new FastReidException($"collective peer timeout must be positive, got {PeerTimeout}");
        if (RendezvousTimeout <= TimeSpan.Zero) throw new FastReidException($"rendezvous timeout must be positive, got {RendezvousTimeout}");
        if (SegmentBytes < 64) throw new FastReidException($"collective segment size must be at least 64 bytes, got {SegmentBytes}");
    }
}
