using System.Globalization;
using System.Text.Json;
using FastReid.Evaluation;

namespace FastReid.Cli.Commands;

/// <summary>
/// <c>fastreid evaluate</c>: FastReID's retrieval metrics for query/gallery embeddings saved as .npz
/// (from this toolkit or from PyTorch/FastReID via np.savez).
/// </summary>
internal static class EvaluateCommand
{
    private const string Usage = """
        Usage: fastreid evaluate --query Q.npz --gallery G.npz [options]

        Computes FastReID's metrics (mAP, Rank-1/5/10, mINP, TPR@FPR) of query embeddings against a
        gallery. Each .npz holds features float32 [N, D], pids int64 [N], camids int64 [N]
        (np.savez(path, features=..., pids=..., camids=...)); features may be unnormalised.

        Options:
          --query PATH          query embeddings (.npz)
          --gallery PATH        gallery embeddings (.npz)
          --metric NAME         cosine (default) or euclidean (squared)
          --rerank              k-reciprocal re-ranking (Zhong et al. 2017)
            --k1 N              neighbours of the k-reciprocal sets (default 20)
            --k2 N              neighbours of the local query expansion (default 6)
            --lambda X          weight of the original distance (default 0.3)
          --aqe                 alpha-weighted average query expansion
            --qe-times N        expansion rounds (default 1)
            --qe-k N            neighbours averaged (default 5)
            --alpha X           similarity exponent (default 3.0)
          --memory-mb N         working-memory budget for the distance blocks (default 512)
          --json                print one JSON object instead of a table
        """;

    public static readonly CliCommand Definition = new(
        "evaluate", "FastReID metrics (mAP, CMC, mINP, TPR@FPR) of query/gallery embeddings in .npz files",
        Usage, ["rerank", "aqe", "json"], Run);

    private static int Run(CliArgs args)
    {
        args.EnsureNoPositionals();
        var queryPath = args.Require("query");
        var galleryPath = args.Require("gallery");
        var metric = args.Option("metric") ?? "cosine";
        if (metric is not ("cosine" or "euclidean"))
            throw new CliUsageException($"option --metric expects cosine or euclidean, got '{metric}'");
        bool rerank = args.Flag("rerank");
        bool aqe = args.Flag("aqe");
        bool json = args.Flag("json");
        var defaults = new EvaluationOptions();
        var options = new EvaluationOptions(
            Metric: metric,
            Rerank: rerank,
            K1: Dependent(args, "k1", rerank, "rerank", n => args.Int(n, defaults.K1)),
            K2: Dependent(args, "k2", rerank, "rerank", n => args.Int(n, defaults.K2)),
            Lambda: Dependent(args, "lambda", rerank, "rerank", n => args.Double(n, defaults.Lambda)),
            Aqe: aqe,
            QeTimes: Dependent(args, "qe-times", aqe, "aqe", n => args.Int(n, defaults.QeTimes)),
            QeK: Dependent(args, "qe-k", aqe, "aqe", n => args.Int(n, defaults.QeK)),
            Alpha: Dependent(args, "alpha", aqe, "aqe", n => args.Double(n, defaults.Alpha)),
            Roc: true,
            MemoryBudgetBytes: args.Long("memory-mb", defaults.MemoryBudgetBytes >> 20) << 20);
        args.EnsureAllUsed();
        try { FeatureValidation.Check(options); }
        catch (FastReidException e) { throw new CliUsageException(e.Message); }

        var query = FeatureSetNpz.Read(queryPath);
        var gallery = FeatureSetNpz.Read(galleryPath);
        FeatureValidation.CheckPair(query, gallery, queryPath, galleryPath);
        ReidMetrics result;
        try { result = ReidEvaluator.Evaluate(query, gallery, options); }
        catch (FastReidException e) { throw new FastReidException($"{queryPath} against {galleryPath}: {e.Message}", e); }

        if (json) Console.WriteLine(ToJson(result));
        else PrintTable(result, query, gallery, options);
        return 0;
    }

    /// <summary>Reads an option that only means something together with a flag, rejecting it without the flag.</summary>
    private static T Dependent<T>(CliArgs args, string name, bool enabled, string flag, Func<string, T> read)
    {
        if (!enabled && args.Option(name) is not null)
            throw new CliUsageException($"option --{name} only applies with --{flag}");
        return read(name);
    }

    internal static string ToJson(ReidMetrics m)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteNumber("mAP", m.MAP);
            writer.WriteNumber("rank1", m.Rank1);
            writer.WriteNumber("rank5", m.Rank5);
            writer.WriteNumber("rank10", m.Rank10);
            writer.WriteNumber("mINP", m.MINP);
            if (m.TprAtFpr is { } tpr)
            {
                writer.WriteStartObject("tpr@fpr");
                foreach (var (key, value) in tpr) writer.WriteNumber(key, value);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void PrintTable(ReidMetrics m, FeatureSet query, FeatureSet gallery, EvaluationOptions o)
    {
        var settings = new List<string> { o.Metric };
        if (o.Aqe) settings.Add(string.Create(CultureInfo.InvariantCulture, $"AQE qe-times={o.QeTimes} qe-k={o.QeK} alpha={o.Alpha}"));
        if (o.Rerank) settings.Add(string.Create(CultureInfo.InvariantCulture, $"re-ranking k1={o.K1} k2={o.K2} lambda={o.Lambda}"));
        Console.WriteLine($"{query.Count} queries, {gallery.Count} gallery images, dim {query.Dim} ({string.Join(", ", settings)})");
        Console.WriteLine();
        var rows = new List<(string, double)>
        {
            ("mAP", m.MAP), ("Rank-1", m.Rank1), ("Rank-5", m.Rank5), ("Rank-10", m.Rank10), ("mINP", m.MINP),
        };
        if (m.TprAtFpr is { } tpr) rows.AddRange(tpr.Select(kv => ($"TPR@FPR={kv.Key}", kv.Value)));
        Console.WriteLine($"{"metric",-16} {"value",8}");
        foreach (var (name, value) in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-16} {value * 100,7:F2}%"));
    }
}
