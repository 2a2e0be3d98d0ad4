using System.Runtime.InteropServices;

namespace FastReid.Cli.Launch;

/// <summary>
/// SIGINT and SIGTERM as a cancellation: while registered, either signal cancels <see cref="Token"/> instead of
/// ending the process, so a supervisor stops its children first and then returns <see cref="ExitCode"/> (130 for
/// SIGINT, 143 for SIGTERM, as a shell reports them; the first signal decides).
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _term, _interrupt;
    private int _exitCode;

    public StopSignals()
    {
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    public CancellationToken Token => _stop.Token;

    /// <summary>The exit code for the signal received; 0 before any.</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Interlocked.CompareExchange(ref _exitCode, context.Signal == PosixSignal.SIGINT ? 130 : 143, 0);
        _stop.Cancel();
    }

    public void Dispose()
    {
        _term.Dispose();
        _interrupt.Dispose();
        _stop.Dispose();
    }
}
