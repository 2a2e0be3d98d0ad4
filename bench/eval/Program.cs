using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Evaluation;
using TorchSharp;

// Evaluation benchmark (issues 3 and 16). Each scenario runs in its own process so that its peak RSS is its own:
//   FastReid.Bench.Eval all OUT.json     run every scenario, merge into OUT.json
//   FastReid.Bench.Eval market|msmt|rerank   one scenario, one JSON object on stdout
// Features are random identity clusters (centre + Gaussian noise) at the real datasets' sizes.

return args switch
{
    ["all", var output] => RunAll(output),
    ["market"] => Print(Market()),
    ["msmt"] => Print(Msmt()),
    ["rerank"] => Print(Rerank()),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: FastReid.Bench.Eval all OUT.json | market | msmt | rerank");
    return 2;
}

static int Print(JsonObject result)
{
    Console.WriteLine(result.ToJsonString());
    return 0;
}

static int RunAll(string output)
{
    var merged = new JsonObject
    {
        ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
        ["torch_threads"] = torch.get_num_threads(),
        ["features"] = "random identity clusters, float32, dim 2048, cosine unless stated",
    };
    foreach (var scenario in new[] { "market", "rerank", "msmt" })
    {
        Console.Error.WriteLine($"bench eval: {scenario} ...");
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
        start.ArgumentList.Add(scenario);
        using var child = Process.Start(start)!;
        var text = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"scenario {scenario} failed with exit code {child.ExitCode}");
        merged[scenario] = JsonNode.Parse(text.Trim().Split('\n')[^1]);
        Console.Error.WriteLine($"bench eval: {scenario}: {merged[scenario]!.ToJsonString()}");
    }
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    File.WriteAllText(output, merged.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    return 0;
}

static JsonObject Market()
{
    WarmUp();
    var (query, gallery) = Synthetic(seed: 1, queries: 3368, galleryCount: 15913, identities: 750, cameras: 6);
    using var numpy = NumpyGemm.Start(query.Count, gallery.Count, query.Dim, blockRows: 0);
    var options = new EvaluationOptions();
    var eval = new List<(double Wall, double Cpu)>();
    var evalRoc = new List<(double Wall, double Cpu)>();
    var torchProduct = new List<(double Wall, double Cpu)>();
    var ownProduct = new List<(double Wall, double Cpu)>();
    var numpyProduct = new List<double>();
    ReidMetrics? metrics = null;
    long peakAfterEval = 0;
    const int rounds = 3;
    for (int round = 0; round < rounds; round++)
    {
        eval.Add(Measure(() => metrics = ReidEvaluator.Evaluate(query, gallery, options)));
        if (round == 0) peakAfterEval = PeakRssBytes();
        if (numpy is not null) numpyProduct.Add(numpy.Run());
        torchProduct.Add(Measure(() => BareProduct(query, gallery)));
        ownProduct.Add(Measure(() => OwnProduct(query, gallery)));
        evalRoc.Add(Measure(() => ReidEvaluator.Evaluate(query, gallery, options with { Roc = true })));
    }
    var gemm = BestGemm(torchProduct, ownProduct, numpyProduct);
    return new JsonObject
    {
        ["shape"] = "3368 x 15913 x 2048",
        ["evaluation_s"] = Round(Best(eval)),
        ["evaluation_with_roc_s"] = Round(Best(evalRoc)),
        ["gemm"] = gemm.Json,
        ["ratio_evaluation_to_best_gemm"] = Round(Best(eval) / gemm.Best),
        ["ratio_evaluation_with_roc_to_best_gemm"] = Round(Best(evalRoc) / gemm.Best),
        ["cpu_ratio_evaluation_to_evaluator_product"] = Round(BestCpu(eval) / BestCpu(ownProduct)),
        ["goal_ratio_max"] = 1.5,
        ["cpu_s_evaluation"] = Round(BestCpu(eval)),
        ["cpu_s_evaluation_with_roc"] = Round(BestCpu(evalRoc)),
        ["peak_rss_evaluation_mib"] = peakAfterEval >> 20,
        ["peak_rss_incl_bare_products_mib"] = PeakRssBytes() >> 20,
        ["limit_mib"] = 600,
        ["memory_budget_mib"] = options.MemoryBudgetBytes >> 20,
        ["timing"] = $"best of {rounds}; evaluation, numpy product, libtorch product, the evaluator's product and evaluation with ROC interleaved in one run; wall time (numpy's timed inside its process)",
        ["load_average_at_end"] = File.ReadAllText("/proc/loadavg").Split(' ')[0],
        ["mAP"] = Round(metrics!.MAP), ["rank1"] = Round(metrics.Rank1),
    };
}

static double Best(List<(double Wall, double Cpu)> runs) => runs.Min(r => r.Wall);
static double BestCpu(List<(double Wall, double Cpu)> runs) => runs.Min(r => r.Cpu);

/// <summary>The fastest of the products measured beside the evaluation, each figure named.</summary>
static (double Best, JsonObject Json) BestGemm(List<(double Wall, double Cpu)> torchProduct, List<(double Wall, double Cpu)> ownProduct,
    List<double> numpyProduct)
{
    var figures = new Dictionary<string, double>
    {
        ["libtorch_mm_s"] = Best(torchProduct),
        ["evaluator_product_s"] = Best(ownProduct),
    };
    if (numpyProduct.Count > 0) figures["numpy_openblas_s"] = numpyProduct.Min();
    var best = figures.MinBy(kv => kv.Value);
    var json = new JsonObject
    {
        ["evaluator_backend"] = RowProducts.Default.Backend,
        ["numpy"] = numpyProduct.Count > 0 ? NumpyGemm.Blas : "unavailable (python3-numpy not installed)",
    };
    foreach (var (name, seconds) in figures) json[name] = Round(seconds);
    // Process CPU seconds: on a loaded machine wall time also counts the waits for a core.
    json["libtorch_mm_cpu_s"] = Round(BestCpu(torchProduct));
    json["evaluator_product_cpu_s"] = Round(BestCpu(ownProduct));
    json["best"] = best.Key;
    json["best_s"] = Round(best.Value);
    return (best.Value, json);
}

static (double Wall, double Cpu) Measure(Action action)
{
    var process = Process.GetCurrentProcess();
    var cpu = process.TotalProcessorTime;
    var watch = Stopwatch.StartNew();
    action();
    double wall = watch.Elapsed.TotalSeconds;
    process.Refresh();
    return (wall, (process.TotalProcessorTime - cpu).TotalSeconds);
}

static JsonObject Msmt()
{
    WarmUp();
    var (query, gallery) = Synthetic(seed: 2, queries: 11659, galleryCount: 82161, identities: 3060, cameras: 15);
    // The full product (3.7 GB) would break the bound being measured: the products run in blocks of
    // query rows into one reused buffer, as the evaluator does.
    const int blockRows = 816;
    using var numpy = NumpyGemm.Start(query.Count, gallery.Count, query.Dim, blockRows);
    ReidMetrics? metrics = null;
    var options = new EvaluationOptions();
    var eval = new List<(double Wall, double Cpu)>();
    var torchProduct = new List<(double Wall, double Cpu)>();
    var ownProduct = new List<(double Wall, double Cpu)>();
    var numpyProduct = new List<double>();
    long peak = 0;
    const int rounds = 1;
    for (int round = 0; round < rounds; round++)
    {
        eval.Add(Measure(() => metrics = ReidEvaluator.Evaluate(query, gallery, options)));
        if (round == 0) peak = PeakRssBytes();
        if (numpy is not null) numpyProduct.Add(numpy.Run());
        torchProduct.Add(Measure(() => BlockedProduct(query, gallery, blockRows)));
        ownProduct.Add(Measure(() => OwnProduct(query, gallery)));
    }
    var gemm = BestGemm(torchProduct, ownProduct, numpyProduct);
    return new JsonObject
    {
        ["shape"] = "11659 x 82161 x 2048",
        ["evaluation_s"] = Round(Best(eval)),
        ["gemm"] = gemm.Json,
        ["ratio_evaluation_to_best_gemm"] = Round(Best(eval) / gemm.Best),
        ["goal_ratio_max"] = 1.5,
        ["cpu_s_evaluation"] = Round(BestCpu(eval)),
        ["cpu_ratio_evaluation_to_evaluator_product"] = Round(BestCpu(eval) / BestCpu(ownProduct)),
        ["timing"] = $"best of {rounds}; evaluation, numpy product, libtorch product and the evaluator's product ({blockRows}-row blocks where not the evaluator's own) interleaved in one run",
        ["load_average_at_end"] = File.ReadAllText("/proc/loadavg").Split(' ')[0],
        ["peak_rss_mib"] = peak >> 20,
        ["input_features_mib"] = ((long)(query.Features.Length + gallery.Features.Length) * 4) >> 20,
        ["limit_mib"] = 2048,
        ["mAP"] = Round(metrics!.MAP), ["rank1"] = Round(metrics.Rank1),
    };
}

static JsonObject Rerank()
{
    WarmUp();
    var (query, gallery) = Synthetic(seed: 1, queries: 3368, galleryCount: 15913, identities: 750, cameras: 6);
    using var numpy = NumpyGemm.Start(query.Count, gallery.Count, query.Dim, blockRows: 0);
    ReidMetrics? plain = null, reranked = null;
    var plainRuns = new List<(double Wall, double Cpu)>();
    var rerankRuns = new List<(double Wall, double Cpu)>();
    var searchRuns = new List<(double Wall, double Cpu)>();
    var torchProduct = new List<(double Wall, double Cpu)>();
    var ownProduct = new List<(double Wall, double Cpu)>();
    var numpyProduct = new List<double>();
    long peak = 0;
    const int rounds = 2;
    for (int round = 0; round < rounds; round++)
    {
        rerankRuns.Add(Measure(() => reranked = ReidEvaluator.Evaluate(query, gallery, new EvaluationOptions(Rerank: true))));
        if (round == 0) peak = PeakRssBytes();
        if (numpy is not null) numpyProduct.Add(numpy.Run());
        plainRuns.Add(Measure(() => plain = ReidEvaluator.Evaluate(query, gallery, new EvaluationOptions())));
        searchRuns.Add(Measure(() => NeighbourSearch(query, gallery)));
        torchProduct.Add(Measure(() => BareProduct(query, gallery)));
        ownProduct.Add(Measure(() => OwnProduct(query, gallery)));
    }
    var gemm = BestGemm(torchProduct, ownProduct, numpyProduct);
    return new JsonObject
    {
        ["shape"] = "3368 x 15913 x 2048, k1 20, k2 6, lambda 0.3",
        ["evaluation_with_rerank_s"] = Round(Best(rerankRuns)),
        ["evaluation_without_rerank_s"] = Round(Best(plainRuns)),
        ["neighbour_search_s"] = Round(Best(searchRuns)),
        ["gemm"] = gemm.Json,
        ["ratio_rerank_to_best_gemm"] = Round(Best(rerankRuns) / gemm.Best),
        ["ratio_neighbour_search_to_best_gemm"] = Round(Best(searchRuns) / gemm.Best),
        ["cpu_ratio_rerank_to_evaluator_product"] = Round(BestCpu(rerankRuns) / BestCpu(ownProduct)),
        ["cpu_s_neighbour_search"] = Round(BestCpu(searchRuns)),
        ["goal_ratio_max"] = 4.0,
        ["neighbour_search_products"] = "(q+g)^2 / 2 pairs: 3.45x the flops of the q x g product",
        ["cpu_s_evaluation_with_rerank"] = Round(BestCpu(rerankRuns)),
        ["timing"] = $"best of {rounds}; re-ranked evaluation, numpy product, plain evaluation, the (q+g) k1 neighbour search alone, libtorch product and the evaluator's product interleaved in one run",
        ["load_average_at_end"] = File.ReadAllText("/proc/loadavg").Split(' ')[0],
        ["peak_rss_mib"] = peak >> 20,
        ["mAP"] = Round(plain!.MAP), ["mAP_reranked"] = Round(reranked!.MAP),
        ["rank1"] = Round(plain.Rank1), ["rank1_reranked"] = Round(reranked.Rank1),
    };
}

/// <summary>Re-ranking's first step alone: the k1 = 20 nearest of every row of query ∪ gallery (normalised), squared L2.</summary>
static void NeighbourSearch(FeatureSet query, FeatureSet gallery)
{
    var all = new float[query.Features.Length + gallery.Features.Length];
    query.Features.CopyTo(all, 0);
    gallery.Features.CopyTo(all, query.Features.Length);
    VectorMath.NormalizeRows(all, query.Count + gallery.Count, query.Dim, all);
    NearestNeighbours.BySquaredL2(all, query.Count + gallery.Count, query.Dim, 20, RowProducts.Default, new EvaluationOptions().MemoryBudgetBytes);
}

/// <summary>The evaluator's product alone: its backend, its blocks, its workers, no scan.</summary>
static void OwnProduct(FeatureSet query, FeatureSet gallery)
{
    var products = RowProducts.Default;
    const int blockRows = 256;
    var buffers = new float[]?[products.Workers];
    products.ForEachChunk(query.Count, blockRows, (start, rows, worker) =>
    {
        var buffer = buffers[worker] ??= new float[(long)blockRows * gallery.Count];
        products.Multiply(query.Features, start, rows, gallery.Features, 0, gallery.Count, query.Dim, buffer, alpha: 1, beta: 0);
    });
}

static void WarmUp()
{
    var (q, g) = Synthetic(seed: 9, queries: 20, galleryCount: 100, identities: 10, cameras: 3);
    ReidEvaluator.Evaluate(q, g, new EvaluationOptions(Roc: true, Rerank: true));
    BareProduct(q, g);
    OwnProduct(q, g);
}

/// <summary>What a plain libtorch evaluation starts with: the full Q×G product, float32, nothing else.</summary>
static void BareProduct(FeatureSet query, FeatureSet gallery)
{
    using var scope = torch.NewDisposeScope();
    var q = torch.from_array(query.Features).view(query.Count, query.Dim);
    var g = torch.from_array(gallery.Features).view(gallery.Count, gallery.Dim);
    var product = torch.mm(q, g.t());
    _ = product.shape; // CPU matmul is synchronous: the product exists here
}

static void BlockedProduct(FeatureSet query, FeatureSet gallery, int rows)
{
    var buffer = new float[(long)rows * gallery.Count];
    using var q = torch.from_array(query.Features).view(query.Count, query.Dim);
    using var g = torch.from_array(gallery.Features).view(gallery.Count, gallery.Dim);
    for (int start = 0; start < query.Count; start += rows)
    {
        int n = Math.Min(rows, query.Count - start);
        using var scope = torch.NewDisposeScope();
        var output = torch.from_array(buffer).narrow(0, 0, (long)n * gallery.Count).view(n, gallery.Count);
        output.addmm_(q.narrow(0, start, n), g.t(), beta: 0, alpha: 1);
    }
}

static double Round(double value) => Math.Round(value, 4);

static long PeakRssBytes()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    return 0;
}

static (FeatureSet Query, FeatureSet Gallery) Synthetic(int seed, int queries, int galleryCount, int identities, int cameras)
{
    const int dim = 2048;
    const double noise = 3.0; // same-identity cosine ≈ 0.1 against ±0.022 noise: mAP ≈ 0.8, like a trained model
    var centres = new float[identities * dim];
    FillGaussian(centres, seed, 1.0);
    FeatureSet Make(int count, int salt, int pidRange)
    {
        var random = new Random(seed * 7919 + salt);
        var pids = Enumerable.Range(0, count).Select(_ => (long)random.Next(pidRange)).ToArray();
        var cams = Enumerable.Range(0, count).Select(_ => (long)random.Next(cameras)).ToArray();
        var features = new float[(long)count * dim];
        Parallel.For(0, count, i =>
        {
            var row = features.AsSpan(i * dim, dim);
            var rng = new Random(seed * 1_000_003 + salt * 100_000_007 + i);
            long pid = pids[i];
            var centre = pid < identities ? centres.AsSpan((int)pid * dim, dim) : Span<float>.Empty;
            for (int d = 0; d < dim; d += 2)
            {
                double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
                double r = Math.Sqrt(-2 * Math.Log(u1)) * noise;
                row[d] = (float)(r * Math.Cos(2 * Math.PI * u2) + (centre.IsEmpty ? 0 : centre[d]));
                row[d + 1] = (float)(r * Math.Sin(2 * Math.PI * u2) + (centre.IsEmpty ? 0 : centre[d + 1]));
            }
        });
        return new FeatureSet(features, count, dim, pids, cams);
    }
    // Gallery pids beyond the identities are distractors (pure noise), as Market's junk/distractor images.
    return (Make(queries, 1, identities), Make(galleryCount, 2, identities + identities / 10));
}

static void FillGaussian(float[] target, int seed, double sigma)
{
    var random = new Random(seed);
    for (int i = 0; i + 1 < target.Length; i += 2)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        double r = Math.Sqrt(-2 * Math.Log(u1)) * sigma;
        target[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
        target[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
    }
}
