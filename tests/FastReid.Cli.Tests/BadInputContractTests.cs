using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text.Json.Nodes;
using FastReid.Config;
using FastReid.IO;
using FastReid.Pipeline.Experiments;

namespace FastReid.Cli.Tests;

/// <summary>
/// Issue 15's contract, for every command: whatever the input — a config value mutated to huge, negative, zero,
/// non-numeric, a list of the wrong length, an unknown name or an empty string; a dataset file off the naming rule;
/// a garbage .npz; missing or garbage weights — the command exits 0, 1, 2 or 3, says why in a line on stderr, and
/// never prints a stack trace or dies of an abort or a signal (exit code 128 and above). The mutations are seeded:
/// every failure message names the seed and the case, so a failure reruns as it was.
/// </summary>
public sealed class BadInputContractTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private const int Seed = 15;
    private static readonly string Recipe = Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml");
    private static readonly int[] Contract = [0, 1, 2, 3];
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-contract-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// A command line, its environment, the exit codes it may end with (within <see cref="Contract"/>), what its error line
    /// must name, and the config key it mutates (a usage error must name it: not, say, an option the command forgot to read).
    /// </summary>
    private sealed record Case(string Name, string[] Args, Dictionary<string, string>? Env = null, int[]? Expected = null, string? Says = null, string? Key = null);

    // ---- the values a mutation puts in a key ----

    private static readonly string[] IntValues = ["3000000000", "-3000000000", "9223372036854775808", "-2", "-1", "0", "1", "7", "abc", "", "1.5", "[4]"];
    private static readonly string[] FloatValues = ["nan", "inf", "-inf", "1e400", "-1", "0", "0.5", "1", "2", "1e-300", "abc", "", "[0.1, 0.2]"];
    private static readonly string[] IntListValues = ["[256]", "[]", "[30000, 30000]", "[3000000000, 64]", "[0, 0]", "[-1, 64]", "[64, 32, 3]", "[a, b]", "(64, 32", "64", "[64, 32]", "[16, 16]"];
    private static readonly string[] FloatListValues = ["[]", "[1]", "[1, 2, 3]", "[0, 0, 0]", "[-1, 1, 1]", "[nan, 1, 1]", "[a, b, c]", "[1, 2, 3, 4]"];
    private static readonly string[] StringValues = ["", "nope", "'quoted'", "Baseline", "cosine", "[x]"];
    private static readonly string[] StringListValues = ["[]", "('',)", "('Nope',)", "Foo", "('CrossEntropyLoss', 'ArcLoss')", "('Market1501',)"];
    private static readonly string[] BoolValues = ["maybe", "", "1", "True", "False", "[True]"];

    /// <summary>Keys whose values are paths or URIs: mutated only to local bad paths (a random one could write into the repository or reach a network).</summary>
    private static readonly HashSet<string> PathKeys =
        ["OUTPUT_DIR", "MODEL.WEIGHTS", "MODEL.BACKBONE.PRETRAIN_PATH", "KD.MODEL_CONFIG", "KD.MODEL_WEIGHTS"];

    private static string[] ValuesFor(ConfigKey key) => key.Kind switch
    {
        ConfigValueKind.Int => IntValues,
        ConfigValueKind.Float => FloatValues,
        ConfigValueKind.IntList => IntListValues,
        ConfigValueKind.FloatList => FloatListValues,
        ConfigValueKind.String => StringValues,
        ConfigValueKind.StringList => StringListValues,
        _ => BoolValues,
    };

    private static List<(string Key, string Value)> Mutations(Random random, int count)
    {
        var keys = ConfigSchema.Keys.Where(k => !PathKeys.Contains(k.Name)).ToList();
        return Enumerable.Range(0, count).Select(_ =>
        {
            var key = keys[random.Next(keys.Count)];
            var values = ValuesFor(key);
            return (key.Name, values[random.Next(values.Length)]);
        }).ToList();
    }

    // ---- in process: every value through the schema, as the trainer and the operator read it ----

    [Fact]
    public void A_config_value_is_refused_naming_its_key_or_is_one_the_trainer_can_read()
    {
        var random = new Random(Seed);
        var failures = new List<string>();
        // every key with every value of its kind, then seeded random pairs on top of a random other mutation
        var cases = ConfigSchema.Keys.Where(k => !PathKeys.Contains(k.Name)).SelectMany(k => ValuesFor(k).Select(v => new[] { (k.Name, v) })).ToList();
        var pairs = Mutations(random, 400);
        // (two values of one key: the operator's tree holds only the last, so such pairs are not compared)
        cases.AddRange(pairs.Zip(Mutations(random, 400), (a, b) => new[] { a, b }).Where(p => p[0].Item1 != p[1].Item1));
        foreach (var mutation in cases)
        {
            var what = string.Join(" ", mutation.Select(m => $"{m.Item1} '{m.Item2}'"));
            var cfg = FastReidConfig.Defaults();
            string? refusedBy = null;
            try
            {
                cfg.ApplyOverrides(mutation.SelectMany(m => new[] { m.Item1, m.Item2 }).ToArray());
            }
            catch (ConfigException e)
            {
                refusedBy = mutation.First(m => e.Message.Contains(m.Item1, StringComparison.Ordinal) || e.Key == m.Item1).Item1;
            }
            catch (Exception e)
            {
                failures.Add($"{what}: {e.GetType().Name}, not a ConfigException: {e.Message}");
                continue;
            }
            // the operator's spec.config validation takes the same values with the same verdict
            var tree = new JsonObject();
            foreach (var (key, value) in mutation) tree[key] = value;
            bool operatorRefuses = SpecConfig.Validate(tree, "spec.config").Count > 0;
            if (operatorRefuses != (refusedBy is not null))
                failures.Add($"{what}: the trainer {(refusedBy is null ? "accepts" : "refuses")} it, the operator {(operatorRefuses ? "refuses" : "accepts")} it");
            if (refusedBy is not null) continue;
            try
            {
                foreach (var key in ConfigSchema.Keys) Read(cfg, key);
                ConfigPreflight.ForTraining(cfg);
            }
            catch (ConfigException) { }
            catch (Exception e)
            {
                failures.Add($"{what}: accepted, then reading it failed with {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, $"seed {Seed}, {cases.Count} cases, {failures.Count} broke the contract:\n{string.Join("\n", failures.Take(40))}");
    }

    /// <summary>Reads a key as the trainer does (integers as 32-bit ints).</summary>
    private static void Read(FastReidConfig cfg, ConfigKey key)
    {
        _ = key.Kind switch
        {
            ConfigValueKind.Int => cfg.Int(key.Name),
            ConfigValueKind.IntList => cfg.Ints(key.Name).Length,
            ConfigValueKind.Float => cfg.Float(key.Name),
            ConfigValueKind.FloatList => cfg.Floats(key.Name).Length,
            ConfigValueKind.String => cfg.String(key.Name).Length,
            ConfigValueKind.StringList => cfg.Strings(key.Name).Length,
            _ => cfg.Bool(key.Name) ? 1 : 0,
        };
    }

    [Theory]
    [InlineData("SEED", "3000000000", "SEED: must be from -1 to 2147483647 (got 3000000000)")]
    [InlineData("SOLVER.MAX_EPOCH", "3000000000", "SOLVER.MAX_EPOCH: must be from 1 to 2147483647 (got 3000000000)")]
    [InlineData("INPUT.SIZE_TEST", "[256]", "INPUT.SIZE_TEST: expects 2 values, got 1 ([256])")]
    [InlineData("INPUT.SIZE_TRAIN", "[30000, 30000]", "INPUT.SIZE_TRAIN: must be from 16 to 1024 (got 30000 in [30000, 30000])")]
    [InlineData("MODEL.LOSSES.NAME", "('ArcLoss',)", "MODEL.LOSSES.NAME: 'ArcLoss' is not one of: CrossEntropyLoss, TripletLoss, CircleLoss, Cosface")]
    [InlineData("MODEL.LOSSES.NAME", "[]", "MODEL.LOSSES.NAME: expects at least 1 value, got 0")]
    [InlineData("SOLVER.IMS_PER_BATCH", "1", "SOLVER.IMS_PER_BATCH: must be from 2 to 4096 (got 1)")]
    public void The_issue_examples_are_config_errors_naming_key_value_and_range(string key, string value, string message)
    {
        var e = Assert.Throws<ConfigException>(() => FastReidConfig.Defaults().ApplyOverrides([key, value]));
        Assert.Contains(message, e.Message);
        Assert.Equal(ExitCodes.Usage, e.ExitCode);
    }

    // ---- through the real binary ----

    [Fact]
    public void Every_command_keeps_the_exit_code_contract_on_bad_input()
    {
        var cases = new List<Case>();
        var random = new Random(Seed);
        var weights = Garbage("garbage.pth", [0x80, 0x02, 0x7d, 0x71, 0x00]);
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "no-datasets")).FullName;
        var images = Path.Combine(data.Market, "query");
        var noData = new Dictionary<string, string> { ["FASTREID_DATASETS"] = empty };
        var outputs = Directory.CreateDirectory(Path.Combine(_dir, "out")).FullName;
        string Out(string name) => Path.Combine(outputs, name);

        // config commands, each with mutated values: accepted ones end at the data or the weights (exit 1), refused ones at once (2)
        string[] ConfigCommand(int command, int i) => command switch
        {
            0 => ["train", "--config", Recipe, "OUTPUT_DIR", Out($"train{i}")],
            1 => ["evaluate", "--config", Recipe, "--datasets", empty, "MODEL.WEIGHTS", weights],
            2 => ["embed", "--config", Recipe, "--images", images, "--out", Out($"e{i}.npz"), "MODEL.WEIGHTS", weights],
            3 => ["export", "--config", Recipe, "--output", Out($"export{i}"), "MODEL.WEIGHTS", weights],
            4 => ["bench", "train", "--config", Recipe, "--out", Out($"bench{i}.json")],
            _ => ["bench", "export", "--config", Recipe, "--out", Out($"bexp{i}.json"), "MODEL.WEIGHTS", weights],
        };
        string[] issue = ["SEED", "3000000000", "SOLVER.MAX_EPOCH", "3000000000", "INPUT.SIZE_TEST", "[256]", "INPUT.SIZE_TRAIN", "[30000, 30000]"];
        for (int command = 0; command < 6; command++)
            for (int j = 0; j < issue.Length; j += 2)
                cases.Add(new($"issue example {issue[j]} {issue[j + 1]}", [.. ConfigCommand(command, cases.Count), issue[j], issue[j + 1]], noData, [2], issue[j]));
        foreach (var (key, value) in Mutations(random, 30))
            cases.Add(new($"seeded mutation {key} '{value}'", [.. ConfigCommand(random.Next(6), cases.Count), key, value], noData, Key: key));

        // weights that are missing (a config error), a folder, empty or garbage (bad input)
        foreach (var (what, path, code) in new[] { ("missing", Path.Combine(_dir, "none.pth"), 2), ("a folder", _dir, 2), ("empty", Garbage("empty.pth", []), 1),
                     ("garbage", weights, 1), ("garbage safetensors", Garbage("x.safetensors", [9, 0, 0, 0, 0, 0, 0, 0, (byte)'{']), 1) })
        {
            cases.Add(new($"embed, weights {what}", ["embed", "--config", Recipe, "--images", images, "--out", Out("w.npz"), "MODEL.WEIGHTS", path], null, [code], "MODEL.WEIGHTS"));
            cases.Add(new($"export, weights {what}", ["export", "--config", Recipe, "--output", Out("wx"), "MODEL.WEIGHTS", path], null, [code], "MODEL.WEIGHTS"));
        }

        // evaluate on .npz files that are not feature sets
        var good = GoodNpz("good.npz", 5, 4);
        foreach (var (what, path) in BadNpzFiles(good, random))
            // a flipped byte may land where the zip does not look (a time stamp): then the file is still good
            cases.Add(new($"evaluate, query npz {what}", ["evaluate", "--query", path, "--gallery", good], null, what.StartsWith("byte flipped", StringComparison.Ordinal) ? [0, 1] : [1],
                Path.GetFileName(path)));

        // dataset files off the Market-1501 naming rule: named, never an int.Parse crash
        foreach (var bad in new[] { "0001-1_c1s1_000001_00.jpg", "abc.jpg", "99999999999_c1s1_000001_00.jpg", "0001_c9s1_000001_00.jpg", "-2_c1s1_000001_00.jpg" })
            cases.Add(new($"train, dataset file '{bad}'", [.. TrainCommandTests.Tiny(Out($"names{cases.Count}")), "SOLVER.MAX_EPOCH", "1"], WithBadFile(bad), [1], bad));

        // the other commands' options
        cases.AddRange(new[]
        {
            ("data synth --identities", new[] { "data", "synth", "--out", Out("s"), "--identities", "3000000000" }),
            ("data synth --width", ["data", "synth", "--out", Out("s"), "--width", "30000", "--height", "30000"]),
            ("data synth --cameras", ["data", "synth", "--out", Out("s"), "--cameras", "0"]),
            ("data synth --seed", ["data", "synth", "--out", Out("s"), "--seed", "x"]),
            ("bench tune --seeds", ["bench", "tune", "--seeds", "0", "--out", Out("t.json")]),
            ("bench tune --cap", ["bench", "tune", "--cap", "nan", "--out", Out("t.json")]),
            ("bench collectives --sizes", ["bench", "collectives", "--sizes", "1e12", "--out", Out("c.json")]),
            ("bench collectives --worlds", ["bench", "collectives", "--worlds", "3000000000", "--out", Out("c.json")]),
            ("bench collectives --reps", ["bench", "collectives", "--reps", "-1", "--out", Out("c.json")]),
            ("tune, no manifest", ["tune", "-f", Path.Combine(_dir, "none.yaml"), "--out", Out("tune")]),
            ("tune, garbage manifest", ["tune", "-f", Garbage("bad.yaml", "kind: [TuneSweep\n"u8.ToArray()), "--out", Out("tune")]),
            ("train, odd override count", ["train", "--config", Recipe, "SEED"]),
            ("train, missing config", ["train", "--config", Path.Combine(_dir, "none.yml")]),
            ("evaluate --k1", ["evaluate", "--query", good, "--gallery", good, "--rerank", "--k1", "3000000000"]),
        }.Select(c => new Case(c.Item1, c.Item2, noData, [1, 2])));

        var failures = new ConcurrentBag<string>();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = 3 }, c =>
        {
            var (code, stdout, stderr) = CliRunner.Run(c.Env, c.Args);
            if (Broken(c, code, stdout, stderr) is { } why)
                failures.Add($"{c.Name} (fastreid {string.Join(" ", c.Args)}): {why}\n    stderr: {Tail(stderr)}");
        });
        Assert.True(failures.IsEmpty, $"seed {Seed}, {cases.Count} cases, {failures.Count} broke the contract:\n{string.Join("\n", failures.Order())}");
    }

    [Fact]
    public void A_config_error_is_found_before_any_dataset_sync_or_output()
    {
        // a pod's environment: the dataset is synced from S3 first; a bad config must never get that far (nor retry it)
        var env = new Dictionary<string, string>
        {
            ["FASTREID_DATASET_URI"] = "s3://datasets/market1501", ["FASTREID_DATASETS"] = Path.Combine(_dir, "scratch"),
            ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9", ["AWS_ACCESS_KEY_ID"] = "x", ["AWS_SECRET_ACCESS_KEY"] = "y",
            ["FASTREID_S3_MAX_RETRIES"] = "1", ["FASTREID_S3_ATTEMPT_TIMEOUT"] = "2",
        };
        var output = Path.Combine(_dir, "run");
        foreach (var (key, value) in new[] { ("SOLVER.IMS_PER_BATCH", "1"), ("INPUT.SIZE_TRAIN", "[256]"), ("MODEL.LOSSES.NAME", "('ArcLoss',)"),
                     ("MODEL.BACKBONE.PRETRAIN", "True"), ("MODEL.BACKBONE.PRETRAIN_PATH", Path.Combine(_dir, "none.pth")),
                     ("MODEL.WEIGHTS", Path.Combine(_dir, "none.pth")), ("DATALOADER.NUM_INSTANCE", "5") })
        {
            string[] args = ["train", "--config", Recipe, "OUTPUT_DIR", output, "DATALOADER.SAMPLER_TRAIN", "NaiveIdentitySampler", key, value];
            if (key == "MODEL.BACKBONE.PRETRAIN_PATH") args = [.. args, "MODEL.BACKBONE.PRETRAIN", "True"];
            var (code, stdout, stderr) = CliRunner.Run(env, args);
            Assert.True(code == 2, $"{key} {value}: exit {code}, expected 2 (do not retry)\n{stderr}{stdout}");
            Assert.Contains(key, stderr);
            Assert.DoesNotContain("syncing", stdout + stderr);
            Assert.False(Directory.Exists(output), $"{key} {value}: OUTPUT_DIR was created");
        }
    }

    [Fact]
    public void An_internal_error_is_one_line_naming_type_and_place_and_the_trace_comes_only_on_request()
    {
        Exception thrown;
        try { throw new InvalidOperationException("boom\nsecond line"); }
        catch (Exception e) { thrown = e; }
        foreach (var debug in new[] { false, true })
        {
            var stderr = new StringWriter();
            Assert.Equal(1, CommandErrors.Report("train", thrown, stderr, debug));
            var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Matches(@"^fastreid train: error: boom; second line \(internal error: InvalidOperationException at BadInputContractTests\.cs:\d+; please report it; FASTREID_DEBUG=1 prints the stack trace\)", lines[0]);
            Assert.Equal(debug, stderr.ToString().Contains("   at ", StringComparison.Ordinal));
            if (!debug) Assert.Single(lines);
        }
        // a user's error inside a task's wrapper keeps its message and its exit code
        var wrapped = new AggregateException(new InvalidOperationException("other"), new ConfigException("SEED: must be from -1 to 2147483647 (got 3000000000)", "SEED"));
        var said = new StringWriter();
        Assert.Equal(ExitCodes.Usage, CommandErrors.Report("train", wrapped, said, debug: false));
        Assert.Equal("fastreid train: error: SEED: must be from -1 to 2147483647 (got 3000000000)", said.ToString().Trim());
    }

    /// <summary>Why a run broke the contract, or null.</summary>
    private static string? Broken(Case c, int code, string stdout, string stderr)
    {
        if (code >= 128) return $"died with exit code {code} (an abort or a signal)";
        if (!Contract.Contains(code)) return $"exit code {code} is outside the contract {{0, 1, 2, 3}}";
        if (c.Expected is { } expected && !expected.Contains(code)) return $"exit code {code}, expected {string.Join(" or ", expected)}";
        if (stderr.Contains("   at ", StringComparison.Ordinal) || stderr.Contains("Unhandled exception", StringComparison.Ordinal)) return "a stack trace";
        if (code == 0) return null;
        var command = c.Args[0] is "data" or "bench" ? $"{c.Args[0]} {c.Args[1]}" : c.Args[0];
        var line = stderr.Split('\n').FirstOrDefault(l => l.StartsWith($"fastreid {command}: ", StringComparison.Ordinal));
        if (line is null) return $"exit {code} without a 'fastreid {command}: ...' line";
        if (c.Says is { } says && !line.Contains(says, StringComparison.Ordinal)) return $"the line does not name '{says}': {line}";
        if (code == ExitCodes.Usage && c.Key is { } key && !line.Contains(key, StringComparison.Ordinal)) return $"a usage error that does not name {key}: {line}";
        return null;
    }

    private static string Tail(string text) => text.Length > 600 ? "..." + text[^600..] : text;

    private string Garbage(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string GoodNpz(string name, int n, int d)
    {
        var path = Path.Combine(_dir, name);
        Npz.Write(path, new Dictionary<string, NpyArray>
        {
            ["features"] = NpyArray.Of(Enumerable.Range(0, n * d).Select(i => (float)Math.Sin(i)).ToArray(), n, d),
            ["pids"] = NpyArray.Of(Enumerable.Range(0, n).Select(i => (long)(i % 2)).ToArray(), n),
            ["camids"] = NpyArray.Of(Enumerable.Range(0, n).Select(i => (long)(i % 3)).ToArray(), n),
        });
        return path;
    }

    /// <summary>Files named for what is wrong with them: not a zip, truncated, flipped bytes, arrays missing, of the wrong dtype, shape or values.</summary>
    private IEnumerable<(string What, string Path)> BadNpzFiles(string good, Random random)
    {
        var bytes = File.ReadAllBytes(good);
        yield return ("empty", Garbage("empty.npz", []));
        yield return ("random bytes", Garbage("random.npz", Enumerable.Range(0, 300).Select(_ => (byte)random.Next(256)).ToArray()));
        yield return ("truncated", Garbage("truncated.npz", bytes[..(bytes.Length / 2)]));
        for (int i = 0; i < 6; i++)
        {
            var flipped = (byte[])bytes.Clone();
            flipped[random.Next(flipped.Length)] ^= (byte)(1 + random.Next(255));
            yield return ($"byte flipped ({i})", Garbage($"flipped{i}.npz", flipped));
        }
        var noPids = Path.Combine(_dir, "no-pids.npz");
        Npz.Write(noPids, new Dictionary<string, NpyArray> { ["features"] = NpyArray.Of(new float[8], 2, 4) });
        yield return ("without pids", noPids);
        var text = Path.Combine(_dir, "text-dtype.npz");
        WriteRawNpz(text, "features", "{'descr': '<U4', 'fortran_order': False, 'shape': (2, 4), }", new byte[128]);
        yield return ("of strings", text);
        var bad = Path.Combine(_dir, "bad-header.npz");
        WriteRawNpz(bad, "features", "{'descr': '<f4', 'shape': (-3, 4), }", new byte[48]);
        yield return ("negative shape", bad);
        var huge = Path.Combine(_dir, "huge-shape.npz");
        WriteRawNpz(huge, "features", "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 9223372036854775807), }", new byte[4]);
        yield return ("whose shape overflows", huge);
        var nan = Path.Combine(_dir, "nan.npz");
        Npz.Write(nan, new Dictionary<string, NpyArray>
        {
            ["features"] = NpyArray.Of(new[] { float.NaN, 1, 2, 3 }, 1, 4), ["pids"] = NpyArray.Of(new long[] { 0 }, 1), ["camids"] = NpyArray.Of(new long[] { 0 }, 1),
        });
        yield return ("with NaN", nan);
        yield return ("of another dimension", GoodNpz("dim3.npz", 5, 3));
    }

    /// <summary>An .npz holding one .npy entry with a header written as given (what np.save would never write).</summary>
    private static void WriteRawNpz(string path, string array, string header, byte[] payload)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        using var entry = zip.CreateEntry(array + ".npy").Open();
        var padded = header.PadRight((header.Length + 10 + 63) / 64 * 64 - 10 - 1) + "\n";
        entry.Write([0x93, .. "NUMPY"u8, 1, 0, (byte)(padded.Length & 0xff), (byte)(padded.Length >> 8)]);
        entry.Write(System.Text.Encoding.ASCII.GetBytes(padded));
        entry.Write(payload);
    }

    /// <summary>A copy of the tiny dataset with one more training image, named <paramref name="name"/>.</summary>
    private Dictionary<string, string> WithBadFile(string name)
    {
        var root = Path.Combine(_dir, "data-" + Math.Abs(name.GetHashCode(StringComparison.Ordinal)));
        foreach (var file in Directory.EnumerateFiles(data.Root, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(root, Path.GetRelativePath(data.Root, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var train = Path.Combine(root, "Market-1501-v15.09.15", "bounding_box_train");
        File.Copy(Directory.EnumerateFiles(train).First(), Path.Combine(train, name));
        return new Dictionary<string, string> { ["FASTREID_DATASETS"] = root };
    }
}
