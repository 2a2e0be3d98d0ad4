using System.Diagnostics;
using System.Text.Json;
using FastReid.Evaluation;
using FastReid.IO;

namespace FastReid.Cli.Tests;

/// <summary><c>fastreid evaluate</c> end to end: the built binary, real .npz files, exit codes and messages.</summary>
public sealed class EvaluateCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evaluate-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // 1-D points, squared euclidean: the query (pid 1, cam 1, at 0) ranks x1 (pid 2), x2 (match), x3 (pid 3),
    // x4 (same pid and camera: removed), x5 (match) → matches at ranks 2 and 4: mAP 0.5, mINP 0.5, Rank-1 0.
    private static readonly FeatureSet Query = new([0], 1, 1, [1], [1]);
    private static readonly FeatureSet Gallery = new([1, 2, 3, 4, 5], 5, 1, [2, 1, 3, 1, 1], [2, 2, 1, 1, 3]);

    private string Save(string name, FeatureSet set)
    {
        var path = Path.Combine(_dir, name);
        FeatureSetNpz.Write(path, set);
        return path;
    }

    private string SaveArrays(string name, Dictionary<string, NpyArray> arrays)
    {
        var path = Path.Combine(_dir, name);
        Npz.Write(path, arrays);
        return path;
    }

    private static (int Code, string Out, string Err) Fastreid(params string[] args) => CliRunner.Run(null, args);

    [Fact]
    public void Json_output_has_the_metrics_as_fractions()
    {
        var (code, stdout, stderr) = Fastreid("evaluate", "--query", Save("q.npz", Query), "--gallery", Save("g.npz", Gallery),
            "--metric", "euclidean", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(0.5, root.GetProperty("mAP").GetDouble(), 12);
        Assert.Equal(0.0, root.GetProperty("rank1").GetDouble(), 12);
        Assert.Equal(1.0, root.GetProperty("rank5").GetDouble(), 12);
        Assert.Equal(1.0, root.GetProperty("rank10").GetDouble(), 12);
        Assert.Equal(0.5, root.GetProperty("mINP").GetDouble(), 12);
        var tpr = root.GetProperty("tpr@fpr");
        Assert.Equal(["1e-04", "1e-03", "1e-02"], tpr.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Table_output_is_readable()
    {
        var (code, stdout, stderr) = Fastreid("evaluate", "--query", Save("q.npz", Query), "--gallery", Save("g.npz", Gallery),
            "--metric", "euclidean");
        Assert.True(code == 0, stderr);
        Assert.Contains("1 queries, 5 gallery images, dim 1 (euclidean)", stdout);
        Assert.Matches(@"mAP\s+50\.00%", stdout);
        Assert.Matches(@"Rank-1\s+0\.00%", stdout);
        Assert.Matches(@"TPR@FPR=1e-02\s+\d+\.\d\d%", stdout);
    }

    [Fact]
    public void Rerank_and_aqe_options_reach_the_evaluator()
    {
        var random = new Random(5);
        FeatureSet Make(int n) => new(
            Enumerable.Range(0, n * 8).Select(_ => (float)random.NextDouble()).ToArray(), n, 8,
            Enumerable.Range(0, n).Select(_ => (long)random.Next(6)).ToArray(),
            Enumerable.Range(0, n).Select(_ => (long)random.Next(3)).ToArray());
        var query = Make(20);
        var gallery = Make(80);
        var (code, stdout, stderr) = Fastreid("evaluate", "--query", Save("q.npz", query), "--gallery", Save("g.npz", gallery),
            "--rerank", "--k1", "7", "--k2", "3", "--lambda", "0.4", "--aqe", "--qe-k", "3", "--alpha", "2", "--json");
        Assert.True(code == 0, stderr);
        var expected = ReidEvaluator.Evaluate(query, gallery,
            new EvaluationOptions(Rerank: true, K1: 7, K2: 3, Lambda: 0.4, Aqe: true, QeK: 3, Alpha: 2, Roc: true));
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(expected.MAP, doc.RootElement.GetProperty("mAP").GetDouble(), 12);
        Assert.Equal(expected.MINP, doc.RootElement.GetProperty("mINP").GetDouble(), 12);
        Assert.NotEqual(ReidEvaluator.Evaluate(query, gallery, new EvaluationOptions()).MAP, expected.MAP);
    }

    private (string Err, string Query, string Gallery) FailsWith(int exitCode, FeatureSet? query = null, FeatureSet? gallery = null,
        string? queryPath = null, string? galleryPath = null)
    {
        queryPath ??= Save("query.npz", query ?? Query);
        galleryPath ??= Save("gallery.npz", gallery ?? Gallery);
        var (code, _, stderr) = Fastreid("evaluate", "--query", queryPath, "--gallery", galleryPath);
        Assert.Equal(exitCode, code);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
        return (stderr, queryPath, galleryPath);
    }

    [Fact]
    public void Dimension_mismatch_names_both_files()
    {
        var (err, q, g) = FailsWith(1, query: new FeatureSet([0, 0], 1, 2, [1], [1]));
        Assert.Contains($"{q} features are [1, 2], {g} features are [5, 1]", err);
    }

    [Fact]
    public void Empty_gallery_names_the_file()
    {
        var (err, _, g) = FailsWith(1, gallery: new FeatureSet([], 0, 1, [], []));
        Assert.Contains($"{g}: the gallery is empty", err);
    }

    [Fact]
    public void Nan_and_inf_name_the_file_and_position()
    {
        var (err, _, g) = FailsWith(1, gallery: Gallery with { Features = [1, 2, float.NaN, 4, 5] });
        Assert.Contains($"{g}: features contain NaN at row 2, column 0", err);
        (err, var q, _) = FailsWith(1, query: Query with { Features = [float.NegativeInfinity] });
        Assert.Contains($"{q}: features contain Inf at row 0, column 0", err);
    }

    [Fact]
    public void Wrong_dtype_wrong_shape_and_missing_arrays_name_file_and_array()
    {
        var f64 = SaveArrays("f64.npz", new()
        {
            ["features"] = NpyArray.Of(new double[] { 0 }, 1, 1), ["pids"] = NpyArray.Of(new long[] { 1 }), ["camids"] = NpyArray.Of(new long[] { 1 }),
        });
        Assert.Contains($"{f64}: array 'features' has dtype <f8, expected float32", FailsWith(1, queryPath: f64).Err);
        var flat = SaveArrays("flat.npz", new()
        {
            ["features"] = NpyArray.Of(new float[] { 0 }, 1), ["pids"] = NpyArray.Of(new long[] { 1 }), ["camids"] = NpyArray.Of(new long[] { 1 }),
        });
        Assert.Contains($"{flat}: array 'features' has shape (1,), expected [N, D]", FailsWith(1, queryPath: flat).Err);
        var noCams = SaveArrays("nocams.npz", new()
        {
            ["features"] = NpyArray.Of(new float[] { 0 }, 1, 1), ["pids"] = NpyArray.Of(new long[] { 1 }),
        });
        Assert.Contains($"{noCams}: array 'camids' is missing", FailsWith(1, galleryPath: noCams).Err);
        var missing = Path.Combine(_dir, "absent.npz");
        Assert.Contains($"{missing}: file not found", FailsWith(1, queryPath: missing).Err);
    }

    [Fact]
    public void No_valid_query_names_both_files()
    {
        // The query's identity appears in the gallery only under its own camera.
        var (err, q, g) = FailsWith(1, query: new FeatureSet([0], 1, 1, [1], [1]),
            gallery: new FeatureSet([1, 2], 2, 1, [1, 2], [1, 1]));
        Assert.Contains($"{q} against {g}: no valid query", err);
    }

    [Theory]
    [InlineData("option --gallery is required", "--query", "q.npz")]
    [InlineData("unknown option --metrc (did you mean --metric?)", "--query", "q.npz", "--gallery", "g.npz", "--metrc", "cosine")]
    [InlineData("option --k1 only applies with --rerank", "--query", "q.npz", "--gallery", "g.npz", "--k1", "5")]
    [InlineData("option --metric expects cosine or euclidean, got 'manhattan'", "--query", "q.npz", "--gallery", "g.npz", "--metric", "manhattan")]
    [InlineData("re-ranking k1 must be >= 1 (got 0)", "--query", "q.npz", "--gallery", "g.npz", "--rerank", "--k1", "0")]
    public void Usage_errors_exit_2_with_the_usage(string message, params string[] args)
    {
        var (code, _, stderr) = Fastreid(["evaluate", .. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.Contains("Usage: fastreid evaluate", stderr);
    }
}
