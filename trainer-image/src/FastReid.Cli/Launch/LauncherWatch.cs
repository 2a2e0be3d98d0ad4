namespace FastReid.Cli.Launch;

/// <summary>
/// The worker's half of "no orphans": a worker started by <see cref="WorkerLauncher"/> (its marker variable set)
/// reads its stdin, a pipe only the launcher writes to, and exits when it reaches EOF. The kernel closes that pipe
/// however the launcher ends, SIGKILL included, so a worker never outlives it.
/// </summary>
internal static class LauncherWatch
{
    public static void StartIfWorker()
    {
        if (Environment.GetEnvironmentVariable(WorkerEnvironment.LauncherPidVariable) is not { Length: > 0 } launcher) return;
        new Thread(() => Watch(launcher)) { IsBackground = true, Name = "launcher-watch" }.Start();
    }

    private static void Watch(string launcher)
    {
        try
        {
            using var stdin = Console.OpenStandardInput();
            var buffer = new byte[64];
            while (stdin.Read(buffer) > 0) { }
        }
        catch (IOException) { }
        try { Console.Error.WriteLine($"fastreid: the launcher (pid {launcher}) is gone; this worker stops"); }
        catch (IOException) { } // its stderr may have been the launcher's pipe
        // the same code as a lost peer: the run can be resumed from its checkpoint
        Environment.Exit(ExitCodes.PeerLost);
    }
}
