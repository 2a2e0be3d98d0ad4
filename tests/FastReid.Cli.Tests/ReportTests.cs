using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastReid.Api.V1Alpha1;
using FastReid.Cli.Tune;
using FastReid.Engine;
using FastReid.Pipeline.Tune;

namespace FastReid.Cli.Tests;

/// <summary>One tiny training (2 epochs, evaluated after each, ROC measured) that the report tests share.</summary>
public sealed class ReportedRun : IDisposable
{
    private readonly TinyDataset _data = new();
    public string Root { get; } = Directory.CreateTempSubdirectory("cli-report-").FullName;
    public string Run => Path.Combine(Root, "run");
    public string Stdout { get; }

    public ReportedRun()
    {
        var (code, stdout, stderr) = CliRunner.Run(_data.Env, TrainCommandTests.Tiny(Run, "TEST.ROC.ENABLED", "True"));
        if (code != 0) throw new InvalidOperationException("training failed: " + stderr + stdout);
        Stdout = stdout;
    }

    public void Dispose()
    {
        Directory.Delete(Root, recursive: true);
        _data.Dispose();
    }
}

public sealed class ReportTests(ReportedRun fixture) : IClassFixture<ReportedRun>
{
    private static readonly string Reader = Path.Combine(CliRunner.RepoRoot, "tests", "tensorboard", "read_events.py");
    private static readonly string PageCheck = Path.Combine(CliRunner.RepoRoot, "tests", "report-check", "check.mjs");

    [Fact]
    public void TensorBoard_events_read_by_an_independent_reader_match_the_run_log_and_metrics()
    {
        var files = Directory.GetFiles(fixture.Run, TensorBoardEvents.FilePrefix + "*");
        var file = Assert.Single(files);
        Assert.Matches(@"^events\.out\.tfevents\.\d{10}\.\S+$", Path.GetFileName(file));
        using var read = JsonDocument.Parse(Tool("/usr/bin/python3", Reader, file));
        Assert.Equal(["brain.Event:2"], read.RootElement.GetProperty("file_version").EnumerateArray().Select(v => v.GetString()));
        var scalars = read.RootElement.GetProperty("scalars").EnumerateArray()
            .Select(s => (Tag: s.GetProperty("tag").GetString()!, Step: s.GetProperty("step").GetInt64(), Value: s.GetProperty("value").GetDouble())).ToList();
        foreach (var tag in new[] { "loss_cls", "loss_triplet", "total_loss", "lr", "images_per_second", "eval/mAP", "eval/rank1", "eval/mINP", "eval/tpr@fpr=1e-02" })
            Assert.Contains(scalars, s => s.Tag == tag);

        // two evaluations (EVAL_PERIOD 1), the last one being metrics.json's
        var maps = scalars.Where(s => s.Tag == "eval/mAP").ToList();
        Assert.Equal(2, maps.Count);
        Assert.Equal([1.0, 2.0], scalars.Where(s => s.Tag == "eval/epoch").Select(s => s.Value));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.Run, "metrics.json")));
        Assert.Equal(metrics.RootElement.GetProperty("mAP").GetDouble(), maps[^1].Value, 1e-6);
        Assert.Equal(metrics.RootElement.GetProperty("rank1").GetDouble(), scalars.Last(s => s.Tag == "eval/rank1").Value, 1e-6);
        // the last step's loss is the one the final progress line printed (to 3 decimals)
        var logged = Regex.Matches(fixture.Stdout, @"epoch 2/2 iter (\d+)/\1  loss (\d+\.\d{3})");
        Assert.NotEmpty(logged);
        var lastLoss = scalars.Last(s => s.Tag == "total_loss");
        Assert.Equal(double.Parse(logged[^1].Groups[2].Value, CultureInfo.InvariantCulture), lastLoss.Value, 0.0006);
        Assert.Equal(2 * long.Parse(logged[^1].Groups[1].Value, CultureInfo.InvariantCulture), lastLoss.Step);

        // the report's reader (ours) sees exactly what the independent one sees
        var ours = TensorBoardEvents.ReadFile(file).Select(s => (s.Tag, s.Step, (double)s.Value)).ToList();
        Assert.Equal(scalars, ours);
    }

    [Fact]
    public void A_damaged_event_file_is_an_error_naming_the_file()
    {
        var dir = Path.Combine(fixture.Root, "damaged");
        Directory.CreateDirectory(dir);
        var copy = Path.Combine(dir, Path.GetFileName(Directory.GetFiles(fixture.Run, TensorBoardEvents.FilePrefix + "*")[0]));
        var bytes = File.ReadAllBytes(Directory.GetFiles(fixture.Run, TensorBoardEvents.FilePrefix + "*")[0]);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(copy, bytes);
        var e = Assert.Throws<FastReidException>(() => TensorBoardEvents.ReadFile(copy));
        Assert.Contains(copy, e.Message);
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void Run_report_loads_in_headless_chromium_with_every_figure_decoded()
    {
        var outDir = Path.Combine(fixture.Root, "run-report");
        var (code, stdout, stderr) = CliRunner.Run(null, "report", fixture.Run, "--out", outDir);
        Assert.True(code == 0, stderr + stdout);
        var images = LoadedImages(outDir, "run-report.png");
        Assert.Equal(["s1-loss.png", "s1-lr.png", "s1-map.png", "s1-cmc.png", "s1-roc.png", "s1-ranking.png"], images);
        Assert.Contains("Ranked gallery of Market1501 after epoch 2", File.ReadAllText(Path.Combine(outDir, "report.html")));
    }

    [Fact]
    public void Ranked_gallery_lists_each_querys_nearest_images_by_the_final_model_framed_by_identity()
    {
        using var ranking = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.Run, RankingFile.JsonName)));
        var root = ranking.RootElement;
        Assert.Equal(2, root.GetProperty("epoch").GetInt32());
        int k = root.GetProperty("k").GetInt32();
        var queries = root.GetProperty("queries").EnumerateArray().ToList();
        Assert.Equal(RankingFile.Queries, queries.Count);
        Assert.Equal(queries.Count, queries.Select(q => q.GetProperty("pid").GetInt32()).Distinct().Count());

        // the final model's embeddings, from `fastreid embed` (another code path), ranked here by plain cosine distance
        var market = Path.GetDirectoryName(Path.GetDirectoryName(queries[0].GetProperty("image").GetString()!))!;
        (float[][] Rows, string[] Names, long[] Pids, long[] Cams) Embed(string split)
        {
            var npz = Path.Combine(fixture.Root, split + ".npz");
            var (code, stdout, stderr) = CliRunner.Run(null, "embed", "--config", Path.Combine(fixture.Run, "config.yaml"), "--images", Path.Combine(market, split),
                "--out", npz, "MODEL.WEIGHTS", Path.Combine(fixture.Run, "model_final.pth"));
            Assert.True(code == 0, stderr + stdout);
            var set = FastReid.Evaluation.FeatureSetNpz.Read(npz);
            var names = FastReid.IO.Npz.Read(npz)["names"];
            int width = (int)names.Shape[1];
            var bytes = (byte[])names.Data;
            var text = Enumerable.Range(0, set.Count).Select(i => System.Text.Encoding.UTF8.GetString(bytes, i * width, width).TrimEnd('\0')).ToArray();
            return ([.. Enumerable.Range(0, set.Count).Select(i => set.Features[(i * set.Dim)..((i + 1) * set.Dim)])], text, set.Pids, set.CamIds);
        }
        var query = Embed("query");
        var gallery = Embed("bounding_box_test");
        static double Cosine(float[] a, float[] b)
        {
            double dot = 0, na = 0, nb = 0;
            for (int i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
            return 1 - dot / Math.Sqrt(na * nb);
        }

        using var mosaic = SkiaSharp.SKBitmap.Decode(Path.Combine(fixture.Run, RankingFile.ImageName));
        Assert.NotNull(mosaic);
        for (int row = 0; row < queries.Count; row++)
        {
            var q = queries[row];
            int qi = Array.IndexOf(query.Names, Path.GetFileName(q.GetProperty("image").GetString()));
            Assert.True(qi >= 0, "the query is not an image of the query folder");
            var expected = Enumerable.Range(0, gallery.Names.Length)
                .Where(g => gallery.Pids[g] >= 0 && !(gallery.Pids[g] == query.Pids[qi] && gallery.Cams[g] == query.Cams[qi]))
                .Select(g => (Name: gallery.Names[g], Distance: Cosine(query.Rows[qi], gallery.Rows[g]), Match: gallery.Pids[g] == query.Pids[qi]))
                .OrderBy(x => x.Distance).Take(k).ToList();
            var top = q.GetProperty("top").EnumerateArray().ToList();
            Assert.Equal(k, top.Count);
            for (int i = 0; i < k; i++)
            {
                var got = top[i];
                Assert.Equal(expected[i].Distance, got.GetProperty("distance").GetDouble(), 1e-4);
                // a near tie (embedding batches round differently) may swap two neighbours; otherwise the same image
                if (Math.Abs(expected[i].Distance - expected[Math.Min(i + 1, k - 1)].Distance) > 1e-4 && (i == 0 || Math.Abs(expected[i].Distance - expected[i - 1].Distance) > 1e-4))
                    Assert.Equal(expected[i].Name, Path.GetFileName(got.GetProperty("image").GetString()));
                bool match = got.GetProperty("match").GetBoolean();
                Assert.Equal(got.GetProperty("pid").GetInt32() == q.GetProperty("pid").GetInt32(), match);
                // the frame of cell i of this row: green for the same identity, red for another
                var frame = mosaic.GetPixel(RankingFile.CellLeft(i + 1) + 1, RankingFile.RowTop(row) + 1);
                Assert.True(match ? frame.Green > 150 && frame.Red < 100 : frame.Red > 150 && frame.Green < 100, $"row {row} rank {i + 1}: frame {frame} for match={match}");
            }
        }
    }

    [Fact]
    public void Pipeline_folder_report_has_a_section_per_run_and_the_sweep_plots()
    {
        var pipeline = Path.Combine(fixture.Root, "pipeline");
        var teacher = Path.Combine(pipeline, "teacher");
        Directory.CreateDirectory(teacher);
        foreach (var f in Directory.GetFiles(fixture.Run).Where(f => Path.GetFileName(f) is "metrics.json" or "config.yaml" || Path.GetFileName(f).StartsWith(TensorBoardEvents.FilePrefix, StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(teacher, Path.GetFileName(f)));
        var sweepDir = Path.Combine(pipeline, "sweep");
        Directory.CreateDirectory(sweepDir);
        TrialSummary Trial(int id, double lr, int instances, double objective) =>
            new(id, new JsonObject { ["SOLVER.BASE_LR"] = lr, ["DATALOADER.NUM_INSTANCE"] = instances }, 0, 1, objective, TrialState.Succeeded, null, null);
        var trials = new[] { Trial(0, 1e-4, 2, 0.31), Trial(1, 3e-4, 4, 0.42), Trial(2, 1e-3, 8, 0.27) };
        new SweepReport("sweep", "random", new ObjectiveSpec(), "Succeeded", null, trials[1], 3, trials, null).Save(sweepDir);

        var outDir = Path.Combine(fixture.Root, "pipeline-report");
        var (code, stdout, stderr) = CliRunner.Run(null, "report", pipeline, "--out", outDir);
        Assert.True(code == 0, stderr + stdout);
        var html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        Assert.Contains("<h2>sweep</h2>", html);
        Assert.Contains("<h2>teacher</h2>", html);
        Assert.Contains("best trial 1", html);
        var images = LoadedImages(outDir, "pipeline-report.png");
        Assert.Equal(["s1-objective.png", "s1-param-DATALOADER_NUM_INSTANCE.png", "s1-param-SOLVER_BASE_LR.png",
            "s2-loss.png", "s2-lr.png", "s2-map.png", "s2-cmc.png", "s2-roc.png"], images);
    }

    [Fact]
    public void Report_of_a_folder_without_runs_or_of_none_is_a_one_line_error()
    {
        var empty = Path.Combine(fixture.Root, "empty");
        Directory.CreateDirectory(empty);
        var (code, _, stderr) = CliRunner.Run(null, "report", empty);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(empty, line);
        Assert.Contains("nothing to report", line);
        var (missing, _, err) = CliRunner.Run(null, "report", Path.Combine(empty, "nope"));
        Assert.Equal(2, missing);
        Assert.Contains("no such directory", err);
    }

    /// <summary>The src of every image on the page, once headless Chromium has loaded it; each must be a decoded file of the folder.</summary>
    internal static List<string> LoadedImages(string outDir, string screenshot)
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "chromium is not installed: run bash tests/report-check/install.sh (`make test-deps` does it)");
        var shot = Path.Combine(outDir, "..", screenshot);
        using var page = JsonDocument.Parse(Tool("node", PageCheck, Path.Combine(outDir, "report.html"), shot));
        Assert.Empty(page.RootElement.GetProperty("errors").EnumerateArray());
        var images = page.RootElement.GetProperty("images").EnumerateArray().ToList();
        Assert.NotEmpty(images);
        foreach (var image in images)
        {
            var src = image.GetProperty("src").GetString()!;
            Assert.True(image.GetProperty("complete").GetBoolean() && image.GetProperty("naturalWidth").GetInt32() > 0, $"{src} did not decode");
            Assert.True(File.Exists(Path.Combine(outDir, src)) && !src.Contains('/'), $"{src} is not a file of the report folder");
        }
        Assert.True(new FileInfo(shot).Length > 0);
        return [.. images.Select(i => i.GetProperty("src").GetString()!)];
    }

    private static string Tool(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: exit {p.ExitCode}\n{stderr.Result}");
        return stdout;
    }
}
