using System.Diagnostics;
using System.Globalization;

namespace FastReid.Engine;

/// <summary>
/// Training progress: on a terminal a live bar redrawn in place; otherwise (logs, CI, pods) plain lines
/// at a steady pace. Every line also goes to the run's log file.
/// </summary>
public sealed class ProgressReporter(TextWriter output, bool interactive, TextWriter? logFile = null)
{
    private readonly Stopwatch _sinceLine = Stopwatch.StartNew();
    private bool _barShown;

    public void Line(string text)
    {
        ClearBar();
        output.WriteLine(text);
        output.Flush();
        logFile?.WriteLine($"[{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}] {text}");
        logFile?.Flush();
    }

    /// <summary>One training iteration finished.</summary>
    public void Iteration(int epoch, int maxEpoch, int iter, int itersPerEpoch, IReadOnlyDictionary<string, double> losses,
        double lr, double imagesPerSecond, TimeSpan eta)
    {
        string lossText = string.Join(" ", losses.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key.Replace("loss_", "")} {kv.Value:F3}")));
        string stats = string.Create(CultureInfo.InvariantCulture,
            $"loss {losses.Values.Sum():F3} ({lossText})  lr {lr:0.##e+0}  {imagesPerSecond:F1} img/s  eta {Format(eta)}");
        if (interactive)
        {
            int width = 24, filled = (int)Math.Round(width * (double)iter / itersPerEpoch);
            output.Write($"\repoch {epoch}/{maxEpoch} [{new string('#', filled)}{new string('.', width - filled)}] {iter}/{itersPerEpoch}  {stats}\u001b[K");
            output.Flush();
            _barShown = true;
        }
        else if (_sinceLine.Elapsed.TotalSeconds >= 15 || iter == itersPerEpoch && epoch == maxEpoch)
        {
            Line($"epoch {epoch}/{maxEpoch} iter {iter}/{itersPerEpoch}  {stats}");
            _sinceLine.Restart();
        }
    }

    private void ClearBar()
    {
        if (!_barShown) return;
        output.Write("\r\u001b[K");
        _barShown = false;
    }

    public static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:D2}s" : $"{t.Seconds}s";
}
