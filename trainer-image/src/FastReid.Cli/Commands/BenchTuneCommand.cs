using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using FastReid.Storage;

namespace FastReid.Cli.Commands;

/// <summary>
/// The search algorithms on known functions with a fidelity dimension, in-process: each sweep is driven through
/// <see cref="SweepSearch.Decide"/> by <see cref="SimulatedSweep"/>, exactly as the shells drive it, with the
/// function in place of trainer processes.
/// </summary>
internal static class BenchTuneCommand
{
    public static readonly CliCommand Definition = new("bench tune",
        "search algorithms on Branin and Hartmann-6 with a fidelity dimension: budget to 1 % regret",
        """
        Usage: fastreid bench tune [--seeds N] [--parallelism P] [--cap C] [--algorithms A,B] [--out FILE]

        Runs random, tpe, hyperband, bohb, asha, dehb and median (random + median stopping) in-process on
        Branin (2-d) and Hartmann-6, each with a fidelity: at budget b of maxBudget 27 (minBudget 1, eta 3)
        the function is biased (Kandasamy et al. 2017's multi-fidelity forms) and noisy, both in proportion
        to 1 - b/27, so only the maximum budget measures the true function. Every sweep is driven through
        the same SweepSearch.Decide the operator and `fastreid tune` use. A sweep spends at most C full
        evaluations (C x 27 budget units); a promoted trial counts at its final budget.

        Reports per function and algorithm: the budget until the incumbent's true normalised regret
        (f - min) / (max - min) is at most 1 % (median over the seeds, a seed that never reaches it counted
        as infinite, and how many reached it; the same for 0.1 %), the median regret at equal budgets, and
        the ratios to random search. Goals: tpe, bohb and dehb need at most 1/3 of random's budget; asha and
        hyperband have a lower regret than random at equal budgets.

        Options:
          --seeds N         seeds per algorithm and function (default 20)
          --parallelism P   trials at once (default 1)
          --cap C           full evaluations each sweep may spend (default 200)
          --algorithms A,B  the algorithms to run (default all; random is always run, as the reference)
          --out FILE        JSON result (default bench/results/tune.json)
        """,
        [], Run);

    private const double MinBudget = 1, MaxBudget = 27;
    private const int Eta = 3;
    private static readonly string[] Algorithms = ["random", "tpe", "hyperband", "bohb", "asha", "dehb", "median"];
    private static readonly double[] Checkpoints = [10, 25, 50, 100, 200];

    private static int Run(CliArgs args)
    {
        int seeds = args.Int("seeds", 20), parallelism = args.Int("parallelism", 1);
        double cap = args.Double("cap", 200);
        var algorithms = args.Option("algorithms") is { } list ? ["random", .. list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Where(a => a != "random").Distinct()] : Algorithms;
        if (algorithms.FirstOrDefault(a => !Algorithms.Contains(a)) is { } unknown)
            throw new CliUsageException($"--algorithms: '{unknown}' is not one of {string.Join(", ", Algorithms)}");
        var outFile = args.Option("out") ?? Path.Combine("bench", "results", "tune.json");
        args.EnsureAllUsed();
        if (seeds < 1 || parallelism < 1 || cap < 1) throw new CliUsageException("--seeds, --parallelism and --cap must be at least 1");
        var functions = new JsonObject();
        foreach (var function in new[] { TestFunction.Branin(), TestFunction.Hartmann6() })
        {
            var results = new JsonObject();
            var perAlgorithm = new Dictionary<string, (double?[] ToTarget, double[][] RegretAt)>();
            foreach (var name in algorithms)
            {
                var toTarget = new double?[seeds];
                var toStrict = new double?[seeds];
                var regretAt = new double[Checkpoints.Length][];
                for (int c = 0; c < Checkpoints.Length; c++) regretAt[c] = new double[seeds];
                for (int seed = 0; seed < seeds; seed++)
                {
                    var run = Sweep(function, name, seed + 1, parallelism, cap);
                    var regrets = run.Progress.Select(p => (p.Spent, Regret: function.Regret(p.Best.Params))).ToList();
                    toTarget[seed] = regrets.FirstOrDefault(r => r.Regret <= 0.01) is { Spent: > 0 } hit ? hit.Spent : null;
                    toStrict[seed] = regrets.FirstOrDefault(r => r.Regret <= 0.001) is { Spent: > 0 } strictHit ? strictHit.Spent : null;
                    for (int c = 0; c < Checkpoints.Length; c++)
                        regretAt[c][seed] = regrets.LastOrDefault(r => r.Spent <= Checkpoints[c] * MaxBudget) is { Spent: > 0 } at ? at.Regret : 1.0;
                }
                perAlgorithm[name] = (toTarget, regretAt);
                double? median = MedianOrNull(toTarget);
                var regretObject = new JsonObject();
                for (int c = 0; c < Checkpoints.Length; c++) regretObject[Key(Checkpoints[c] * MaxBudget)] = Round(Median(regretAt[c]));
                results[name] = new JsonObject
                {
                    ["budget_to_1pct_median"] = median is { } v ? Round(v) : null,
                    ["seeds_reaching_1pct"] = toTarget.Count(t => t is not null),
                    ["budget_to_1pct"] = new JsonArray([.. toTarget.Select(t => t is { } x ? (JsonNode)Round(x) : null)]),
                    ["budget_to_0.1pct_median"] = MedianOrNull(toStrict),
                    ["seeds_reaching_0.1pct"] = toStrict.Count(t => t is not null),
                    ["median_regret_at_budget"] = regretObject,
                };
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{function.Name} {name}: 1 % regret after {(median is { } b ? $"{b:0}" : "never (median)")} budget units, {toTarget.Count(t => t is not null)}/{seeds} seeds; median regret at {Checkpoints[^1] * MaxBudget:0}: {Median(regretAt[^1]):0.####}"));
            }
            functions[function.Name] = new JsonObject
            {
                ["dimensions"] = function.Space.Dimensions.Count,
                ["f_min"] = function.Min,
                ["f_max_sampled"] = Round(function.Max),
                ["algorithms"] = results,
                ["vs_random"] = Comparison(perAlgorithm),
            };
        }
        var result = new JsonObject
        {
            ["benchmark"] = "tune-algorithms-multi-fidelity",
            ["command"] = $"fastreid bench tune --seeds {seeds} --parallelism {parallelism} --cap {cap.ToString(CultureInfo.InvariantCulture)} --algorithms {string.Join(",", algorithms)}",
            ["seeds"] = seeds,
            ["parallelism"] = parallelism,
            ["budgets"] = new JsonObject { ["min"] = MinBudget, ["max"] = MaxBudget, ["eta"] = Eta, ["template"] = MaxBudget, ["cap"] = cap * MaxBudget },
            ["fidelity"] = "at budget b, z = b/27: Kandasamy et al. (2017) multi-fidelity bias times (1 - z), plus Gaussian noise with sigma 2 % of the range times (1 - z); exact at b = 27",
            ["regret"] = "true (noise-free, full-fidelity) normalised regret (f(incumbent) - f_min) / (f_max - f_min) of SweepSearch.Best; f_max from 100000 uniform samples",
            ["budget"] = "sum of trial budgets (a promoted trial at its final budget, a stopped one at what it ran); random and tpe trials run at 27",
            ["settings"] = "defaults of every algorithm (tpe startupTrials 10, gamma 0.1, candidates 24; bohb randomFraction 1/3, topNPercent 15, bandwidthFactor 3, minBandwidth 1e-3, numSamples 64; dehb mutationFactor 0.5, crossoverProb 0.5; median gracePeriod 1, minTrials 3, readings every 3 budget units)",
            ["goals"] = "tpe, bohb and dehb: budget_to_1pct_median <= 1/3 of random's; asha and hyperband: median regret below random's at equal budgets",
            ["functions"] = functions,
            ["machine"] = $"{Environment.ProcessorCount} cores",
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        AtomicFile.WriteAllText(outFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
        Console.WriteLine($"wrote {outFile}");
        return 0;
    }

    private static SimulatedRun Sweep(TestFunction function, string algorithm, int seed, int parallelism, double cap)
    {
        var spec = new TuneSweepSpec
        {
            SearchSpace = function.Parameters,
            Algorithm = new AlgorithmSpec
            {
                Name = algorithm, Seed = seed,
                Settings = SearchAlgorithms.IsMultiFidelity(algorithm) ? new AlgorithmSettings { MinBudget = MinBudget, MaxBudget = MaxBudget, Eta = Eta } : null,
            },
            Budget = new BudgetSpec { Key = "SOLVER.MAX_EPOCH" },
            Parallelism = parallelism,
            MaxTrials = 10000,
            MaxFailedTrials = 10000,
        };
        var errors = new List<FieldError>();
        var search = SearchAlgorithms.Create(spec, function.Space, errors) ?? throw new InvalidOperationException(string.Join("; ", errors));
        return SimulatedSweep.Run(spec, search, (p, budget, id) => function.Observe(p, budget / MaxBudget, seed, id),
            templateBudget: MaxBudget, budgetCap: cap * MaxBudget, readingEvery: algorithm == "median" ? 3 : 0);
    }

    /// <summary>Ratios to random search: budget to 1 % regret, and regret at each equal budget.</summary>
    private static JsonObject Comparison(Dictionary<string, (double?[] ToTarget, double[][] RegretAt)> results)
    {
        var random = results["random"];
        double randomBudget = Median(random.ToTarget.Select(t => t ?? double.PositiveInfinity));
        var comparison = new JsonObject();
        foreach (var (name, r) in results.Where(r => r.Key != "random"))
        {
            double budget = Median(r.ToTarget.Select(t => t ?? double.PositiveInfinity));
            var regretRatios = new JsonObject();
            for (int c = 0; c < Checkpoints.Length; c++)
            {
                double mine = Median(r.RegretAt[c]), theirs = Median(random.RegretAt[c]);
                regretRatios[Key(Checkpoints[c] * MaxBudget)] = theirs > 0 ? Round(mine / theirs) : null;
            }
            double? ratio = double.IsFinite(randomBudget) && double.IsFinite(budget) ? Round(budget / randomBudget) : null;
            var entry = new JsonObject
            {
                // Null when the median seed of either never reached 1 % within the cap.
                ["budget_to_1pct_ratio"] = ratio,
                ["regret_ratio_at_budget"] = regretRatios,
            };
            if (name is "tpe" or "bohb" or "dehb")
            {
                entry["goal"] = "budget_to_1pct_ratio <= 1/3";
                entry["met"] = ratio is { } q ? q <= 1.0 / 3 : null;
                if (ratio is null)
                    entry["note"] = double.IsFinite(randomBudget) ? $"{name}'s median seed did not reach 1 % within the cap" : "random search's median seed did not reach 1 % within the cap: not measurable";
            }
            else if (name is "asha" or "hyperband")
            {
                entry["goal"] = "regret below random's at every equal budget";
                entry["met"] = regretRatios.All(kv => kv.Value is null || kv.Value.GetValue<double>() < 1);
            }
            comparison[name] = entry;
        }
        return comparison;
    }

    /// <summary>The median budget over seeds, a seed that never got there counted as infinite; null when the median is.</summary>
    private static double? MedianOrNull(double?[] budgets) =>
        Median(budgets.Select(t => t ?? double.PositiveInfinity)) is var m && double.IsFinite(m) ? Round(m) : null;

    private static string Key(double budget) => budget.ToString("0", CultureInfo.InvariantCulture);

    private static double Round(double x) => Math.Round(x, 5);

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }
}

/// <summary>
/// A test function over a box, carried by float config keys (their names do not matter to the algorithms), with
/// a fidelity z in (0, 1]: a bias and a noise that both vanish at z = 1. The algorithms search the unit cube, mapped
/// linearly onto the box: the keys keep the ranges the trainer accepts (Branin's x from -5 is no learning rate), and
/// an affine map changes nothing the algorithms compare.
/// </summary>
internal sealed class TestFunction
{
    private readonly Func<double[], double, double> _f;
    private readonly double[] _low, _high;
    private readonly string[] _keys;

    private TestFunction(string name, double min, double[] low, double[] high, Func<double[], double, double> f)
    {
        Name = name; Min = min; _low = low; _high = high; _f = f;
        _keys = [.. new[] { "SOLVER.BASE_LR", "SOLVER.MOMENTUM", "SOLVER.WEIGHT_DECAY", "SOLVER.GAMMA", "SOLVER.WARMUP_FACTOR", "MODEL.LOSSES.CE.EPSILON" }.Take(low.Length)];
        Parameters = _keys.ToDictionary(k => k, _ => new SearchParameter { Type = "uniform", Min = 0, Max = 1 });
        var errors = new List<FieldError>();
        Space = SearchSpace.Parse(Parameters, errors) ?? throw new InvalidOperationException(string.Join("; ", errors));
        var random = new Random(12345);
        Max = Enumerable.Range(0, 100_000).Max(_ => f([.. low.Select((l, i) => l + random.NextDouble() * (high[i] - l))], 1));
    }

    public string Name { get; }
    public double Min { get; }
    public double Max { get; }
    public Dictionary<string, SearchParameter> Parameters { get; }
    public SearchSpace Space { get; }

    private double[] X(TrialParams p) => [.. _keys.Select((k, i) => _low[i] + p[k]!.GetValue<double>() * (_high[i] - _low[i]))];

    /// <summary>Normalised regret of a configuration: noise-free, at full fidelity.</summary>
    public double Regret(TrialParams p) => (_f(X(p), 1) - Min) / (Max - Min);

    /// <summary>What a trial reports at fidelity z: biased and noisy below z = 1 (the noise seeded by sweep seed, trial and budget).</summary>
    public double Observe(TrialParams p, double z, int seed, int trialId)
    {
        double noise = Gaussian.Standard(Seeds.For(seed, trialId, 1000 + (int)Math.Round(z * 1000))) * 0.02 * (Max - Min) * (1 - z);
        return _f(X(p), z) + noise;
    }

    /// <summary>Branin on [-5, 10] x [0, 15]; the fidelity form of Kandasamy et al. (2017), BOCA.</summary>
    public static TestFunction Branin() => new("branin", 0.397887357729739, [-5, 0], [10, 15], (x, z) =>
    {
        double b = 5.1 / (4 * Math.PI * Math.PI) - 0.01 * (1 - z), c = 5 / Math.PI - 0.1 * (1 - z), t = 1 / (8 * Math.PI) + 0.05 * (1 - z);
        return Math.Pow(x[1] - b * x[0] * x[0] + c * x[0] - 6, 2) + 10 * (1 - t) * Math.Cos(x[0]) + 10;
    });

    private static readonly double[] Alpha = [1.0, 1.2, 3.0, 3.2];
    private static readonly double[,] A = { { 10, 3, 17, 3.5, 1.7, 8 }, { 0.05, 10, 17, 0.1, 8, 14 }, { 3, 3.5, 1.7, 10, 17, 8 }, { 17, 8, 0.05, 10, 0.1, 14 } };
    private static readonly double[,] P =
    {
        { 0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886 }, { 0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991 },
        { 0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650 }, { 0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381 },
    };

    /// <summary>Hartmann-6 on [0, 1]^6; the fidelity lowers each α by 0.1 (1 - z) (Kandasamy et al. 2017).</summary>
    public static TestFunction Hartmann6() => new("hartmann6", -3.32236801141551, [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], (x, z) =>
    {
        double sum = 0;
        for (int i = 0; i < 4; i++)
        {
            double inner = 0;
            for (int j = 0; j < 6; j++) inner += A[i, j] * (x[j] - P[i, j]) * (x[j] - P[i, j]);
            sum += (Alpha[i] - 0.1 * (1 - z)) * Math.Exp(-inner);
        }
        return -sum;
    });
}
