namespace FastReid.KubeEmulator;

/// <summary>Settings for one emulator instance.</summary>
public sealed record KubeEmulatorOptions
{
    /// <summary>Loopback address to listen on; port 0 picks a free port.</summary>
    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; }

    /// <summary>How many committed events watches can resume from before they get 410 Gone.</summary>
    public int HistoryWindow { get; init; } = 10_000;

    /// <summary>How often a watch that allows bookmarks receives one when nothing else happens.</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Run the built-in Job controller (Job → pods → Job status).</summary>
    public bool RunJobController { get; init; } = true;
}
