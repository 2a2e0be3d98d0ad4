using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Cli.Tune;
using FastReid.Engine;
using FastReid.Storage;

namespace FastReid.Cli.Report;

/// <summary>
/// <c>fastreid report</c>: one self-contained folder, <c>report.html</c> and its PNG figures (relative links), for a
/// run directory or a pipeline directory. A run directory holds a training's output (<c>config.yaml</c>,
/// <c>metrics.json</c> or TensorBoard event files); a sweep directory holds <c>sweep.json</c> (<c>fastreid tune</c>);
/// a pipeline directory is any folder with such directories below it (two levels deep), each reported in its own
/// section. Training curves come from the event files only (what TensorBoard shows), the final CMC and ROC points
/// from <c>metrics.json</c>.
/// </summary>
public static class Report
{
    public const string PageName = "report.html";

    /// <summary>Writes the report of <paramref name="dir"/> into <paramref name="outDir"/>; returns the page's path.</summary>
    public static string Write(string dir, string outDir)
    {
        if (!Directory.Exists(dir)) throw new FastReidException($"{dir}: no such directory (expected a run or pipeline directory)");
        bool pipeline = PipelineReport.IsState(dir);
        var sections = pipeline ? [] : Discover(Path.GetFullPath(dir), Path.GetFullPath(outDir));
        if (!pipeline && sections.Count == 0)
            throw new FastReidException($"{dir}: nothing to report (no config.yaml, metrics.json, {TensorBoardEvents.FilePrefix}* or {SweepReport.FileName} in it or two levels below)");
        Directory.CreateDirectory(outDir);
        var html = new StringBuilder();
        html.Append($$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>FastReID report: {{H(Path.GetFileName(Path.GetFullPath(dir)))}}</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:1340px} img{margin:4px;border:1px solid #ddd}
            table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right} .note{color:#666}</style>
            </head><body><h1>FastReID report: {{H(Path.GetFullPath(dir))}}</h1>
            <p class="note">written {{DateTime.UtcNow:yyyy-MM-dd HH:mm}} UTC</p>

            """);
        if (pipeline) PipelineReport.Append(Path.GetFullPath(dir), outDir, html);
        int n = 0;
        foreach (var (kind, path) in sections)
        {
            string prefix = $"s{++n}-";
            string name = Path.GetRelativePath(Path.GetFullPath(dir), path) is "." ? Path.GetFileName(path) : Path.GetRelativePath(Path.GetFullPath(dir), path);
            html.Append($"<section><h2>{H(name)}</h2>\n");
            if (kind == SectionKind.Sweep) SweepSection(path, outDir, prefix, html);
            else RunSection(path, outDir, prefix, html);
            html.Append("</section>\n");
        }
        html.Append("</body></html>\n");
        var page = Path.Combine(outDir, PageName);
        AtomicFile.WriteAllText(page, html.ToString());
        return page;
    }

    private enum SectionKind { Run, Sweep }

    private static List<(SectionKind, string)> Discover(string dir, string outDir)
    {
        var found = new List<(SectionKind, string)>();
        void Visit(string d, int depth)
        {
            if (string.Equals(d, outDir, StringComparison.Ordinal)) return;
            if (File.Exists(Path.Combine(d, SweepReport.FileName))) { found.Add((SectionKind.Sweep, d)); return; } // its trials are in the sweep plot
            if (IsRun(d)) { found.Add((SectionKind.Run, d)); return; }
            if (depth == 2) return;
            foreach (var sub in Directory.GetDirectories(d).Order(StringComparer.Ordinal)) Visit(sub, depth + 1);
        }
        Visit(dir, 0);
        return found;
    }

    private static bool IsRun(string d) =>
        File.Exists(Path.Combine(d, "config.yaml")) || File.Exists(Path.Combine(d, "metrics.json")) ||
        Directory.GetFiles(d, TensorBoardEvents.FilePrefix + "*").Length > 0;

    internal static void RunSection(string run, string outDir, string prefix, StringBuilder html)
    {
        var scalars = TensorBoardEvents.ReadDirectory(run);
        var figures = new List<string>();
        Series Curve(string tag, string? label = null)
        {
            // a resumed run repeats the steps after its checkpoint: the later file's value is kept
            var points = scalars.Where(s => s.Tag == tag).GroupBy(s => s.Step).Select(g => g.Last()).OrderBy(s => s.Step).ToList();
            return new Series(label ?? tag, [.. points.Select(p => (double)p.Step)], [.. points.Select(p => (double)p.Value)]);
        }
        var lossTags = scalars.Select(s => s.Tag).Where(t => t == "total_loss" || t.StartsWith("loss_", StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (lossTags.Count > 0)
            figures.Add(Figure(outDir, prefix + "loss.png", "Training loss", "iteration", "loss", [.. lossTags.Select(t => Curve(t))]));
        if (scalars.Any(s => s.Tag == "lr"))
            figures.Add(Figure(outDir, prefix + "lr.png", "Learning rate", "iteration", "lr", [Curve("lr")]));
        var epochs = Curve("eval/epoch");
        if (epochs.X.Length > 0)
        {
            Series ByEpoch(string tag, string label)
            {
                var c = Curve(tag);
                var epochOf = epochs.X.Zip(epochs.Y).ToDictionary(p => p.First, p => p.Second);
                return new Series(label, [.. c.X.Select(x => epochOf.GetValueOrDefault(x, double.NaN))], [.. c.Y.Select(y => 100 * y)]);
            }
            figures.Add(Figure(outDir, prefix + "map.png", "mAP and rank-1 per evaluation", "epoch", "%",
                [ByEpoch("eval/mAP", "mAP"), ByEpoch("eval/rank1", "rank-1")]));
        }

        var metricsFile = Path.Combine(run, "metrics.json");
        string table = "";
        bool hasRoc = false;
        if (File.Exists(metricsFile))
        {
            using var metrics = JsonDocument.Parse(File.ReadAllText(metricsFile));
            var root = metrics.RootElement;
            double? Get(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
            if (Get("rank1") is { } r1 && Get("rank5") is { } r5 && Get("rank10") is { } r10)
                figures.Add(Figure(outDir, prefix + "cmc.png", "CMC (final evaluation)", "rank", "matching rate %", [new Series("CMC", [1, 5, 10], [100 * r1, 100 * r5, 100 * r10])]));
            if (root.TryGetProperty("tpr@fpr", out var roc) && roc.ValueKind == JsonValueKind.Object)
            {
                hasRoc = true;
                var points = roc.EnumerateObject().Select(p => (Fpr: double.Parse(p.Name, CultureInfo.InvariantCulture), Tpr: p.Value.GetDouble())).OrderBy(p => p.Fpr).ToList();
                figures.Add(Figure(outDir, prefix + "roc.png", "ROC (final evaluation)", "log10 FPR", "TPR %",
                    [new Series("TPR@FPR", [.. points.Select(p => Math.Log10(p.Fpr))], [.. points.Select(p => 100 * p.Tpr)])]));
            }
            table = "<table><tr><th>mAP</th><th>rank-1</th><th>rank-5</th><th>rank-10</th><th>mINP</th><th>epochs</th><th>evaluated on</th></tr><tr>" +
                string.Concat(new[] { "mAP", "rank1", "rank5", "rank10", "mINP" }.Select(k => $"<td>{(Get(k) is { } v ? (100 * v).ToString("F2", CultureInfo.InvariantCulture) : "–")}</td>")) +
                $"<td>{Get("epoch")}</td><td>{H(root.TryGetProperty("evaluatedOn", out var on) ? on.GetString() ?? "" : "")}</td></tr></table>\n";
        }
        html.Append(table);
        if (scalars.Count == 0) html.Append("<p class=\"note\">No TensorBoard event file in this run: no training curves.</p>\n");
        if (!hasRoc) html.Append("<p class=\"note\">No ROC in metrics.json (set TEST.ROC.ENABLED True to measure TPR@FPR).</p>\n");
        Images(figures, html);
        RankingFigure(run, outDir, prefix, html);
    }

    /// <summary>The run's ranked-gallery mosaic (<see cref="RankingFile"/>), copied next to the page, with what it shows.</summary>
    private static void RankingFigure(string run, string outDir, string prefix, StringBuilder html)
    {
        var png = Path.Combine(run, RankingFile.ImageName);
        var json = Path.Combine(run, RankingFile.JsonName);
        if (!File.Exists(png) || !File.Exists(json))
        {
            html.Append($"<p class=\"note\">No {RankingFile.ImageName} in this run: no ranked-gallery figure (runs before this version do not write one).</p>\n");
            return;
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        var queries = root.GetProperty("queries").EnumerateArray().ToList();
        int k = root.GetProperty("k").GetInt32();
        var hits = queries.Select(q => q.GetProperty("top").EnumerateArray().Count(m => m.GetProperty("match").GetBoolean())).ToList();
        string file = prefix + RankingFile.ImageName;
        File.Copy(png, Path.Combine(outDir, file), overwrite: true);
        html.Append($"<figure><img src=\"{H(file)}\" alt=\"{H(file)}\"><figcaption>Ranked gallery of {H(root.GetProperty("dataset").GetString() ?? "")} after epoch {root.GetProperty("epoch").GetInt32()} " +
                    $"({H(root.GetProperty("metric").GetString() ?? "")} distance, no re-ranking): each row a query (blue) and its {k} nearest gallery images, " +
                    $"green the same identity, red another; same identity and camera left out. Correct in the top {k}: {string.Join(", ", hits)}.</figcaption></figure>\n");
    }

    private static void SweepSection(string dir, string outDir, string prefix, StringBuilder html)
    {
        var sweep = SweepReport.Read(dir);
        var done = sweep.Trials.Where(t => t.Objective is not null).OrderBy(t => t.Id).ToList();
        html.Append($"<p>{H(sweep.Algorithm)} sweep, objective {H(sweep.Objective.Metric)} ({H(sweep.Objective.Goal.ToString())}), {sweep.Trials.Count} trials, phase {H(sweep.Phase)}" +
                    (sweep.Best is { } best ? $"; best trial {best.Id}: {best.Objective?.ToString("F4", CultureInfo.InvariantCulture)} with {H(best.Params.ToJsonString())}" : "") + "</p>\n");
        SweepFigures([.. done.Select(t => (t.Id, t.Params, t.Objective!.Value))], sweep.Objective.Metric, outDir, prefix, html);
    }

    /// <summary>The sweep plots: the objective per trial, and against each searched parameter (an index for non-numbers).</summary>
    internal static void SweepFigures(IReadOnlyList<(int Id, JsonObject Params, double Objective)> done, string metric, string outDir, string prefix, StringBuilder html)
    {
        var figures = new List<string>();
        if (done.Count > 0)
        {
            figures.Add(Figure(outDir, prefix + "objective.png", "Objective per trial", "trial", metric,
                [new Series("objective", [.. done.Select(t => (double)t.Id)], [.. done.Select(t => t.Objective)], Points: true)]));
            foreach (var key in done.SelectMany(t => t.Params.Select(p => p.Key)).Distinct().Order(StringComparer.Ordinal))
            {
                var values = done.Select(t => t.Params[key]?.ToJsonString() ?? "null").ToList();
                var labels = values.Distinct().Order(StringComparer.Ordinal).ToList();
                bool numeric = values.All(v => double.TryParse(v, CultureInfo.InvariantCulture, out _));
                double[] x = numeric ? [.. values.Select(v => double.Parse(v, CultureInfo.InvariantCulture))] : [.. values.Select(v => (double)labels.IndexOf(v))];
                string file = prefix + "param-" + string.Concat(key.Select(c => char.IsLetterOrDigit(c) ? c : '_')) + ".png";
                figures.Add(Figure(outDir, file, $"Objective vs {key}", numeric ? key : $"{key} (index of {string.Join(", ", labels)})", metric,
                    [new Series("trial", x, [.. done.Select(t => t.Objective)], Points: true)]));
            }
        }
        else html.Append("<p class=\"note\">No trial has an objective yet.</p>\n");
        Images(figures, html);
    }

    internal static void Images(IEnumerable<string> figures, StringBuilder html)
    {
        foreach (var f in figures) html.Append($"<img src=\"{H(f)}\" width=\"{ReportPlots.Width}\" height=\"{ReportPlots.Height}\" alt=\"{H(f)}\">\n");
    }

    internal static string Figure(string outDir, string file, string title, string x, string y, IReadOnlyList<Series> series)
    {
        ReportPlots.Save(Path.Combine(outDir, file), title, x, y, series);
        return file;
    }

    internal static string H(string text) => WebUtility.HtmlEncode(text);
}
