using ScottPlot;

namespace FastReid.Cli.Report;

/// <summary>One line or set of points of a figure.</summary>
internal sealed record Series(string Label, double[] X, double[] Y, bool Points = false);

/// <summary>The report's figures as PNG files (ScottPlot), one call per figure, all the same size.</summary>
internal static class ReportPlots
{
    public const int Width = 640, Height = 400;

    /// <summary>Saves a figure of the given series to <paramref name="path"/>.</summary>
    public static void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series)
    {
        var plot = new Plot();
        foreach (var s in series)
        {
            var scatter = plot.Add.Scatter(s.X, s.Y);
            scatter.LegendText = s.Label;
            scatter.MarkerSize = s.Points || s.X.Length < 30 ? 6 : 0;
            if (s.Points) scatter.LineWidth = 0;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        if (series.Count > 1) plot.ShowLegend();
        plot.SavePng(path, Width, Height);
    }
}
