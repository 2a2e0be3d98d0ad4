using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Cli.Pipeline;
using FastReid.Pipeline.Tune;

namespace FastReid.Cli.Report;

/// <summary>
/// The report of a <c>fastreid pipeline run</c> state folder, from what its resources' statuses hold (what
/// <c>kubectl get -o yaml</c> would show) and the run folders of local outputs: every resource with its phase and
/// headline; per DistillJob the teacher / student table, with the KD gain over any experiment of the pipeline that
/// trains the student's own spec without a teacher; per TuneSweep the sweep plots from its trials; per ExportJob
/// its verification (verify.json's checks against the tolerance); per experiment (not a sweep's trials, which
/// the sweep plots show) its training curves and final evaluation. Outputs in S3 are named, not fetched.
/// </summary>
internal static class PipelineReport
{
    public static bool IsState(string dir) => Directory.Exists(Path.Combine(dir, "objects"));

    public static void Append(string state, string outDir, StringBuilder html)
    {
        var cluster = LocalCluster.Open(state);
        var resources = cluster.All<ICustomResource>().OrderBy(LocalKinds.Order).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal).ToList();
        var experiments = resources.OfType<ReidExperiment>().ToList();

        html.Append("<section><h2>Resources</h2>\n<table><tr><th>kind</th><th>name</th><th>phase</th><th>figures</th></tr>\n");
        foreach (var r in resources)
            html.Append($"<tr><td>{H(r.Kind)}</td><td style=\"text-align:left\">{H(r.Metadata.Name ?? "")}</td><td>{H(LocalKinds.Status(r)?.Phase ?? "")}</td>" +
                        $"<td style=\"text-align:left\">{H(PipelineTable.Headline(r))}</td></tr>\n");
        html.Append("</table></section>\n");

        int n = 0;
        foreach (var d in resources.OfType<DistillJob>()) Distill(d, experiments, html);
        foreach (var t in resources.OfType<TuneSweep>()) Sweep(t, outDir, $"p{++n}-", html);
        foreach (var e in resources.OfType<ExportJob>()) Export(e, outDir, $"p{++n}-", html);
        static string? Annotation(ReidExperiment e, string key) => e.Metadata.Annotations?.TryGetValue(key, out var v) == true ? v : null;
        foreach (var e in experiments.Where(e => Annotation(e, TrialNames.TrialAnnotation) is null)) // a sweep's trials are its plots
        {
            html.Append($"<section><h2>ReidExperiment {H(e.Metadata.Name!)}</h2>\n");
            if (Annotation(e, TrialNames.TestRunAnnotation) is { } trial)
                html.Append($"<p class=\"note\">The best trial ({H(trial)}) of TuneSweep {H(e.Metadata.Labels?.GetValueOrDefault(ResourceKinds.TuneSweep.OwnerLabel) ?? "")} retrained on the whole training set and evaluated on the test set.</p>\n");
            if (LocalFolder(e.Status?.Artefacts?.Config) is { } run) Report.RunSection(run, outDir, $"p{++n}-", html);
            else if (e.Status?.Artefacts?.Config is { } uri) html.Append($"<p class=\"note\">Its files are at {H(uri)}: not read here.</p>\n");
            else html.Append($"<p class=\"note\">No output yet (phase {H(e.Status?.Phase ?? "none")}).</p>\n");
            html.Append("</section>\n");
        }
    }

    /// <summary>The folder of a local artefact path (an absolute path on this machine); null for s3:// or nothing.</summary>
    private static string? LocalFolder(string? artefact) =>
        artefact is { Length: > 0 } path && Path.IsPathRooted(path) && Path.GetDirectoryName(path) is { } dir && Directory.Exists(dir) ? dir : null;

    private static void Distill(DistillJob d, List<ReidExperiment> experiments, StringBuilder html)
    {
        var status = d.Status;
        html.Append($"<section><h2>DistillJob {H(d.Metadata.Name!)}</h2>\n<table><tr><th>model</th><th>ReidExperiment</th><th>mAP %</th><th>rank-1 %</th></tr>\n");
        void Row(string model, string experiment, ReidMetrics? m) =>
            html.Append($"<tr><td style=\"text-align:left\">{H(model)}</td><td style=\"text-align:left\">{H(experiment)}</td><td>{Pct(m?.MAP)}</td><td>{Pct(m?.Rank1)}</td></tr>\n");
        foreach (var t in status?.Teachers ?? []) Row("teacher", t.Experiment ?? t.Model ?? "", t.Metrics);
        Row("student, distilled", status?.StudentExperiment ?? "", status?.Metrics);
        // an experiment that trains the student's own spec, without a teacher, is what the KD gain is measured against
        var student = ApiJson.Serialize(d.Spec.Student);
        var alone = experiments.Where(e => e.Metadata.Name != status?.StudentExperiment && ApiJson.Serialize(e.Spec) == student).ToList();
        foreach (var a in alone) Row("student alone", a.Metadata.Name!, a.Status?.Metrics);
        foreach (var a in alone)
            html.Append($"<tr><th style=\"text-align:left\">KD gain (points)</th><td style=\"text-align:left\">distilled − {H(a.Metadata.Name!)}</td>" +
                        $"<td>{Points(status?.Metrics?.MAP, a.Status?.Metrics?.MAP)}</td><td>{Points(status?.Metrics?.Rank1, a.Status?.Metrics?.Rank1)}</td></tr>\n");
        html.Append($"<tr><th style=\"text-align:left\">gain over the teacher</th><td style=\"text-align:left\">status.gain</td><td>{(status?.Gain is { } g ? g.ToString("+0.00;-0.00", CultureInfo.InvariantCulture) : "–")}</td><td></td></tr>\n");
        html.Append("</table>\n");
        if (alone.Count == 0)
            html.Append("<p class=\"note\">No experiment of this pipeline trains the student's spec alone: add one to see the KD gain.</p>\n");
        html.Append("</section>\n");
    }

    private static void Sweep(TuneSweep t, string outDir, string prefix, StringBuilder html)
    {
        var status = t.Status;
        html.Append($"<section><h2>TuneSweep {H(t.Metadata.Name!)}</h2>\n<p>{H(t.Spec.Algorithm.Name)} search, objective {H(t.Spec.Objective.Metric)} ({H(t.Spec.Objective.Goal)}), " +
                    $"{status?.Trials?.Count ?? 0} trials, phase {H(status?.Phase ?? "none")}");
        if (status?.BestTrial is { } best)
            html.Append($"; best trial {best.Id} ({H(best.Name)}): {F4(best.Objective)} on the validation split with {H(best.Params?.ToJsonString() ?? "{}")}" +
                        (best.TestExperiment is { } test ? $"; retrained as {H(test)}: {F4(best.TestObjective)} on the test set" : ""));
        html.Append("</p>\n");
        var done = (status?.Trials ?? []).Where(x => x.Objective is not null && x.Id is not null)
            .Select(x => (x.Id!.Value, x.Params ?? [], x.Objective!.Value)).OrderBy(x => x.Item1).ToList();
        Report.SweepFigures(done, t.Spec.Objective.Metric, outDir, prefix, html);
        html.Append("</section>\n");
    }

    private static void Export(ExportJob e, string outDir, string prefix, StringBuilder html)
    {
        var v = e.Status?.Verification;
        html.Append($"<section><h2>ExportJob {H(e.Metadata.Name!)}</h2>\n");
        html.Append($"<p>source {H(e.Spec.Source.ExperimentRef?.Name ?? e.Spec.Source.ModelUri ?? "")}, phase {H(e.Status?.Phase ?? "none")}" +
                    (e.Status?.Artefacts?.Export is { } onnx ? $", {H(onnx)}" : "") + "</p>\n");
        if (v is not null)
            html.Append("<table><tr><th>passed</th><th>max relative error</th><th>tolerance</th><th>max abs error</th><th>opset</th><th>batch</th><th>onnxruntime</th></tr>" +
                        $"<tr><td>{(v.Passed == true ? "yes" : "no")}</td><td>{E(v.MaxRelativeError)}</td><td>{E(v.Tolerance)}</td><td>{E(v.MaxAbsError)}</td>" +
                        $"<td>{v.Opset}</td><td>{H(v.Batch ?? "")}</td><td>{H(v.Onnxruntime ?? "")}</td></tr></table>\n");
        var verify = LocalFolder(e.Status?.Artefacts?.Export) is { } dir ? Path.Combine(dir, "verify.json") : null;
        if (verify is not null && File.Exists(verify))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(verify));
            var checks = doc.RootElement.TryGetProperty("checks", out var c) && c.ValueKind == JsonValueKind.Array ? c.EnumerateArray().ToList() : [];
            double tolerance = doc.RootElement.TryGetProperty("tolerance", out var tol) ? tol.GetDouble() : v?.Tolerance ?? double.NaN;
            var errors = checks.Select(x => x.GetProperty("max_relative_error").GetDouble()).ToList();
            if (errors.Count > 0)
            {
                double[] x = [.. Enumerable.Range(1, errors.Count).Select(i => (double)i)];
                var labels = string.Join(", ", checks.Select((k, i) => $"{i + 1}: {k.GetProperty("input").GetString()}, batch {k.GetProperty("batch")}"));
                var figure = Report.Figure(outDir, prefix + "verify.png", "ONNX vs the original: worst relative error per check", $"check ({labels})", "log10 max relative error",
                    [new Series("max relative error", x, [.. errors.Select(err => Math.Log10(Math.Max(err, 1e-12)))], Points: true),
                     new Series("tolerance", x, [.. x.Select(_ => Math.Log10(tolerance))])]);
                Report.Images([figure], html);
            }
        }
        else if (e.Status?.Artefacts?.Export is { } uri && verify is null)
            html.Append($"<p class=\"note\">verify.json is next to {H(uri)}: not read here.</p>\n");
        html.Append("</section>\n");
    }

    private static string H(string text) => Report.H(text);

    private static string Pct(double? v) => v is { } x ? (100 * x).ToString("F2", CultureInfo.InvariantCulture) : "–";

    private static string Points(double? a, double? b) => a is { } x && b is { } y ? (100 * (x - y)).ToString("+0.00;-0.00", CultureInfo.InvariantCulture) : "–";

    private static string F4(double? v) => v is { } x ? x.ToString("F4", CultureInfo.InvariantCulture) : "–";

    private static string E(double? v) => v is { } x ? x.ToString("0.00e+0", CultureInfo.InvariantCulture) : "–";
}
