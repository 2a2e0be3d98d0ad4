using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace FastReid.Cli.Tune;

/// <summary>
/// One rung of a trial as a local process, with these guarantees:
/// <list type="bullet">
/// <item>it runs in its own session and process group (<c>setsid</c>), so stopping it reaches everything it
/// started (a shell's children included) and a terminal's Ctrl-C reaches only the tuner, which then stops it;</item>
/// <item>its stdout and stderr are appended to <c>stdout.log</c> and <c>stderr.log</c> in its folder (no pipe to
/// drain, so a child left holding them cannot block the tuner); <see cref="StdoutStart"/> is where this rung's
/// output begins;</item>
/// <item>its stdin is a pipe only the tuner holds: a <c>fastreid train</c> trial exits when it reads EOF, which the
/// kernel delivers however the tuner ends (SIGKILL included);</item>
/// <item><see cref="EndLeftovers"/> ends the process group a killed tuner left behind, recognised by its pid and
/// start time, before the trial runs again.</item>
/// </list>
/// </summary>
internal sealed class TrialProcess : IDisposable
{
    public const string StdoutFile = "stdout.log";
    public const string StderrFile = "stderr.log";
    private const int SigTerm = 15, SigKill = 9;

    private readonly Process _process;

    public int Pid { get; }
    public long? StartTicks { get; }
    public long StdoutStart { get; }
    public long StderrStart { get; }
    public Task Exited { get; }
    public int ExitCode => _process.ExitCode;

    private TrialProcess(Process process, long stdoutStart, long stderrStart)
    {
        _process = process;
        Pid = process.Id;
        StartTicks = StartTime(Pid);
        StdoutStart = stdoutStart;
        StderrStart = stderrStart;
        Exited = process.WaitForExitAsync();
    }

    /// <summary>Runs <paramref name="file"/> <paramref name="args"/> in <paramref name="folder"/> with <paramref name="env"/> added.</summary>
    public static TrialProcess Start(string folder, string file, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> env)
    {
        long stdoutStart = Length(Path.Combine(folder, StdoutFile)), stderrStart = Length(Path.Combine(folder, StderrFile));
        var start = new ProcessStartInfo("setsid")
        {
            UseShellExecute = false,
            WorkingDirectory = folder,
            RedirectStandardInput = true,
        };
        // setsid execs (the tuner's child is no group leader), then sh redirects and execs: the pid is the trial's
        foreach (var a in new[] { "/bin/sh", "-c", $"exec >>{StdoutFile} 2>>{StderrFile}; exec \"$@\"", "fastreid-trial", file }) start.ArgumentList.Add(a);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env) start.Environment[k] = v;
        try
        {
            return new TrialProcess(Process.Start(start) ?? throw new FastReidException($"could not start {file}"), stdoutStart, stderrStart);
        }
        catch (Win32Exception e) { throw new FastReidException($"could not start a trial in {folder} (setsid {file}): {e.Message}", e); }
    }

    /// <summary>SIGTERM to the whole group: the trial's chance to stop cleanly (a trainer finishes its checkpoint write).</summary>
    public void Terminate() => _ = kill(-Pid, SigTerm);

    /// <summary>SIGKILL to the whole group, also after the leader exited (what it left running must not outlive the trial).</summary>
    public void KillGroup() => _ = kill(-Pid, SigKill);

    /// <summary>Stops the trial: SIGTERM, then SIGKILL after <paramref name="grace"/>; returns once the leader has exited.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        Terminate();
        if (await Task.WhenAny(Exited, Task.Delay(grace)).ConfigureAwait(false) != Exited) KillGroup();
        await Exited.ConfigureAwait(false);
        KillGroup();
    }

    /// <summary>This rung's stdout (or stderr) lines.</summary>
    public IReadOnlyList<string> Lines(string folder, bool stderr) =>
        ReadFrom(Path.Combine(folder, stderr ? StderrFile : StdoutFile), stderr ? StderrStart : StdoutStart)
            .Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();

    /// <summary>
    /// Ends what is left of a trial process a previous tuner started (pid <paramref name="pgid"/>, started at
    /// <paramref name="startTicks"/>): every process of that group that started no earlier, SIGKILLed; returns once
    /// they are gone (or after 10 s, naming them).
    /// </summary>
    public static async Task EndLeftoversAsync(int pgid, long startTicks)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var members = GroupMembers(pgid, startTicks);
            if (members.Count == 0) return;
            if (watch.Elapsed > TimeSpan.FromSeconds(10))
                throw new FastReidException($"processes {string.Join(", ", members)} of an earlier trial run (group {pgid}) did not end after SIGKILL");
            _ = kill(-pgid, SigKill);
            await Task.Delay(50).ConfigureAwait(false); // the kernel's reaping is not observable otherwise
        }
    }

    private static List<int> GroupMembers(int pgid, long startTicks)
    {
        var members = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (Stat(pid) is { } stat && stat.Group == pgid && stat.State != 'Z' && stat.Start >= startTicks) members.Add(pid);
        }
        return members;
    }

    /// <summary>The start time of <paramref name="pid"/> in clock ticks since boot, or null when it is gone.</summary>
    public static long? StartTime(int pid) => Stat(pid)?.Start;

    // /proc/PID/stat: "pid (comm) state ppid pgrp ..." with field 22 the start time; comm may hold spaces and parentheses
    private static (char State, int Group, long Start)? Stat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (fields[0][0], int.Parse(fields[2], CultureInfo.InvariantCulture), long.Parse(fields[19], CultureInfo.InvariantCulture));
    }

    private static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    private static string ReadFrom(string path, long offset)
    {
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public void Dispose()
    {
        if (!_process.HasExited) KillGroup();
        _process.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
