using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace FastReid.Cli.Launch;

/// <summary>One worker process: its global rank (for messages and output), what to run, and the variables it adds.</summary>
internal sealed record Worker(int Rank, string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment);

/// <summary>How a launch ended: the first failed worker's rank and code, or all zero; <see cref="Stopped"/> when a signal ended it.</summary>
internal sealed record LaunchOutcome(int ExitCode, int? FailedRank, bool Stopped);

/// <summary>
/// Runs the workers of one node and supervises them, with these guarantees:
/// <list type="bullet">
/// <item>rank 0 writes to this process's stdout and stderr directly (a terminal stays a terminal); every other
/// rank's lines are copied with a <c>[rank R] </c> prefix;</item>
/// <item>the first worker to exit non-zero takes the others down (SIGTERM, then SIGKILL of its process tree after
/// the grace period), and its exit code is the outcome, with one line naming the rank; all zero gives 0;</item>
/// <item>cancelling <c>stop</c> (the launcher's SIGTERM or Ctrl-C) stops every worker the same way;</item>
/// <item>each worker's stdin is a pipe only this process holds, so the worker sees EOF when this process dies,
/// even by SIGKILL, and exits (<see cref="LauncherWatch"/>): no orphans.</item>
/// </list>
/// Nothing is written to the output folder here: rank 0 writes the result itself.
/// </summary>
internal static class WorkerLauncher
{
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <c>fastreid ARGS</c> as N workers of this node (ARGS without the launcher's flag), stopped by SIGTERM or
    /// Ctrl-C; returns the process's exit code.
    /// </summary>
    public static int LaunchSelf(IReadOnlyList<string> args, int procsPerNode)
    {
        var envs = WorkerEnvironment.For(procsPerNode, System.Environment.GetEnvironmentVariable, FreePort, System.Environment.ProcessId);
        var (file, prefix) = SelfCommand();
        var workers = envs.Select(env => new Worker(int.Parse(env["RANK"], System.Globalization.CultureInfo.InvariantCulture), file, [.. prefix, .. args], env)).ToList();

        using var signals = new StopSignals(); // the workers are stopped first, then this process returns
        var outcome = Run(workers, Console.Out, Console.Error, DefaultGrace, signals.Token);
        return outcome.Stopped && outcome.FailedRank is null ? signals.ExitCode : outcome.ExitCode;
    }

    /// <param name="started">told the workers' pids once all are running.</param>
    public static LaunchOutcome Run(IReadOnlyList<Worker> workers, TextWriter stdout, TextWriter stderr, TimeSpan grace, CancellationToken stop,
        Action<IReadOnlyList<int>>? started = null) =>
        RunAsync(workers, TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr), grace, stop, started).GetAwaiter().GetResult();

    private static async Task<LaunchOutcome> RunAsync(IReadOnlyList<Worker> workers, TextWriter stdout, TextWriter stderr, TimeSpan grace,
        CancellationToken stop, Action<IReadOnlyList<int>>? started)
    {
        var running = new List<RunningWorker>(workers.Count);
        try
        {
            foreach (var worker in workers) running.Add(RunningWorker.Start(worker, stdout, stderr));
            started?.Invoke(running.Select(r => r.Process.Id).ToList());

            // a list, not a map by task: an already-exited worker's wait is the one shared completed task
            var pending = new List<RunningWorker>(running);
            var never = new TaskCompletionSource().Task;
            var stopRequested = new TaskCompletionSource();
            using var registration = stop.Register(() => stopRequested.TrySetResult());
            Task stopSignal = stopRequested.Task, killDeadline = never;
            (int Rank, int Code)? failure = null;
            bool stopping = false, stopped = false;
            void StopAll()
            {
                stopping = true;
                foreach (var r in pending) r.Terminate();
                killDeadline = pending.Count > 0 ? Task.Delay(grace, CancellationToken.None) : never;
            }

            while (pending.Count > 0)
            {
                var done = await Task.WhenAny([.. pending.Select(r => r.Exited), stopSignal, killDeadline]).ConfigureAwait(false);
                if (done == stopSignal)
                {
                    stopSignal = never;
                    stopped = true;
                    if (stopping) continue;
                    stderr.WriteLine($"fastreid train: stopping {pending.Count} worker(s)");
                    StopAll();
                }
                else if (done == killDeadline)
                {
                    killDeadline = never;
                    foreach (var r in pending)
                    {
                        stderr.WriteLine($"fastreid train: rank {r.Rank} did not stop within {grace.TotalSeconds:0.#} s of SIGTERM; killing it");
                        r.Kill();
                    }
                }
                else
                {
                    var exited = pending.First(r => r.Exited == done);
                    pending.Remove(exited);
                    int code = exited.Process.ExitCode;
                    if (code == 0 || stopping) continue;
                    failure = (exited.Rank, code);
                    var others = pending.Count switch { 0 => "", 1 => "; stopping the other worker", var n => $"; stopping the other {n} workers" };
                    stderr.WriteLine($"fastreid train: rank {exited.Rank} exited with code {code}{SignalNote(code)}{others}");
                    StopAll();
                }
            }
            await Task.WhenAll(running.Select(r => r.Drain())).ConfigureAwait(false);
            return failure is { } f ? new LaunchOutcome(f.Code, f.Rank, stopped) : new LaunchOutcome(0, null, stopped);
        }
        finally
        {
            foreach (var r in running) r.Dispose();
        }
    }

    // .NET reports a child killed by signal S as 128 + S
    private static string SignalNote(int code) => code switch
    {
        137 => " (killed: SIGKILL, e.g. out of memory)",
        143 => " (SIGTERM)",
        134 => " (aborted: SIGABRT)",
        139 => " (segmentation fault: SIGSEGV)",
        _ => "",
    };

    /// <summary>This binary, as it was started: the apphost, or <c>dotnet fastreid.dll</c>.</summary>
    internal static (string File, string[] Prefix) SelfCommand()
    {
        var path = System.Environment.ProcessPath ?? throw new FastReidException("cannot tell which executable this process is, to start its workers");
        return Path.GetFileNameWithoutExtension(path) == "dotnet" ? (path, [typeof(WorkerLauncher).Assembly.Location]) : (path, []);
    }

    /// <summary>A TCP port free on the loopback now (a rendezvous port for workers of this machine).</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class RunningWorker : IDisposable
    {
        private const int SigTerm = 15;
        private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);
        private readonly Task[] _pumps;

        public int Rank { get; }
        public Process Process { get; }
        public Task Exited { get; }

        private RunningWorker(int rank, Process process, Task[] pumps)
        {
            Rank = rank;
            Process = process;
            _pumps = pumps;
            Exited = process.WaitForExitAsync();
        }

        public static RunningWorker Start(Worker worker, TextWriter stdout, TextWriter stderr)
        {
            bool prefixed = worker.Rank != 0;
            var start = new ProcessStartInfo(worker.FileName)
            {
                UseShellExecute = false,
                // the pipe whose EOF tells the worker this launcher is gone; its write end stays here (close-on-exec)
                RedirectStandardInput = true,
                RedirectStandardOutput = prefixed,
                RedirectStandardError = prefixed,
            };
            foreach (var a in worker.Arguments) start.ArgumentList.Add(a);
            foreach (var (k, v) in worker.Environment) start.Environment[k] = v;
            Process process;
            try { process = Process.Start(start) ?? throw new FastReidException($"could not start rank {worker.Rank} ({worker.FileName})"); }
            catch (Win32Exception e) { throw new FastReidException($"could not start rank {worker.Rank} ({worker.FileName}): {e.Message}", e); }
            var prefix = $"[rank {worker.Rank}] ";
            Task[] pumps = prefixed ? [Pump(process.StandardOutput, stdout, prefix), Pump(process.StandardError, stderr, prefix)] : [];
            return new RunningWorker(worker.Rank, process, pumps);
        }

        private static async Task Pump(StreamReader from, TextWriter to, string prefix)
        {
            while (await from.ReadLineAsync().ConfigureAwait(false) is { } line) to.WriteLine(prefix + line);
        }

        public void Terminate()
        {
            if (!Process.HasExited) _ = kill(Process.Id, SigTerm);
        }

        public void Kill()
        {
            try { Process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // it exited meanwhile
        }

        /// <summary>The copied output up to the worker's exit; bounded, since a child of the worker may still hold the pipe.</summary>
        public async Task Drain()
        {
            try { await Task.WhenAll(_pumps).WaitAsync(DrainLimit).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }

        public void Dispose()
        {
            if (!Process.HasExited) Kill();
            Process.Dispose();
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int kill(int pid, int signal);
    }
}
