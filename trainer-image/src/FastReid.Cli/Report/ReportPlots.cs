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
            if (series.Count > 1) scatter.LegendText = s.Label; // a lone series is named by the title
            scatter.MarkerSize = s.Points || s.X.Length < 30 ? 6 : 0;
            if (s.Points) scatter.LineWidth = 0;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        if (series.Count > 1) plot.ShowLegend();
        // a flat curve (a constant learning rate) would otherwise get the default -1..1 and look like zero
        var ys = series.SelectMany(s => s.Y).Where(double.IsFinite).ToList();
        if (ys.Count > 0 && ys.Max() - ys.Min() <= 1e-9 * Math.Max(Math.Abs(ys.Max()), 1e-30))
        {
            double v = ys[0], pad = v == 0 ? 1 : Math.Abs(v) * 0.5;
            plot.Axes.SetLimitsY(v - pad, v + pad);
        }
        plot.SavePng(path, Width, Height);
    }
}
