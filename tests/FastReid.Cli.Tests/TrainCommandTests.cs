using System.Text.Json;
using FastReid.Config;
using FastReid.IO;

namespace FastReid.Cli.Tests;

/// <summary>A tiny synthetic Market-1501 set written once by <c>fastreid data synth</c>.</summary>
public sealed class TinyDataset : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("cli-data-").FullName;
    public string Market => Path.Combine(Root, "Market-1501-v15.09.15");

    public TinyDataset()
    {
        var (code, _, err) = CliRunner.Run(null, "data", "synth", "--out", Root, "--identities", "16", "--cameras", "3", "--seed", "2",
            "--width", "32", "--height", "64", "--train-images", "8", "--gallery-images", "4");
        if (code != 0) throw new InvalidOperationException("data synth failed: " + err);
    }

    public Dictionary<string, string> Env => new() { ["FASTREID_DATASETS"] = Root };

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class TrainCommandTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-train-").FullName;
    private static readonly string Recipe = Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml");

    public void Dispose() => Directory.Delete(_out, recursive: true);

    /// <summary>The tiny recipe every CLI training test starts from (quarter-width ResNet-18, 64x32, 2 epochs).</summary>
    internal static string[] Tiny(string outputDir, params string[] more) =>
    [
        "train", "--config", Recipe, "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128",
        "SOLVER.MAX_EPOCH", "2", "TEST.EVAL_PERIOD", "1", "SOLVER.WARMUP_ITERS", "2", "INPUT.PADDING.SIZE", "2", "OUTPUT_DIR", outputDir, .. more,
    ];

    [Fact]
    public void Training_writes_fastreid_outputs_and_embeddings_evaluate()
    {
        var dir = Path.Combine(_out, "run");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Tiny(dir));
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("evaluation of Market1501 after epoch 1", stdout);
        Assert.Contains("| final (2 epochs)", stdout);
        foreach (var f in new[] { "config.yaml", "model_final.pth", "model_best.pth", "metrics.json", "manifest.json", "result.json", "log.txt" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        foreach (var key in new[] { "mAP", "rank1", "rank5", "rank10", "mINP" })
            Assert.InRange(metrics.RootElement.GetProperty(key).GetDouble(), 0, 1);
        var weightsSha = metrics.RootElement.GetProperty("weights_sha256").GetString();
        Assert.Matches("^[0-9a-f]{64}$", weightsSha);
        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "result.json")));
        Assert.Equal(weightsSha, result.RootElement.GetProperty("weights_sha256").GetString());
        Assert.True(new FileInfo(Path.Combine(dir, "result.json")).Length <= 4096);
        // the operator's reader takes what the trainer wrote: the final metrics and the published artefacts
        var read = FastReid.Pipeline.TrainerResult.TryParse(File.ReadAllText(Path.Combine(dir, "result.json")), out var readError);
        Assert.True(read is not null, readError);
        Assert.Equal(metrics.RootElement.GetProperty("mAP").GetDouble(), read.Metrics.MAP);
        Assert.Equal(Path.Combine(dir, "model_final.pth"), read.Artefacts.Model);
        Assert.Equal(2, read.BudgetUsed);
        Assert.Equal(FastReid.Storage.Sha256.Of(File.ReadAllBytes(Path.Combine(dir, "model_final.pth"))), read.Artefacts.Sha256!["model_final.pth"]);

        // the effective config loads again and names the identities found in the data
        var again = ConfigLoader.Load(Path.Combine(dir, "config.yaml"));
        Assert.Equal(8, again.Int("MODEL.HEADS.NUM_CLASSES"));
        Assert.Equal(2, again.Int("SOLVER.MAX_EPOCH"));

        var q = Path.Combine(_out, "q.npz");
        var g = Path.Combine(_out, "g.npz");
        foreach (var (folder, npz) in new[] { ("query", q), ("bounding_box_test", g) })
        {
            var (ec, eo, ee) = CliRunner.Run(null, "embed", "--config", Path.Combine(dir, "config.yaml"), "--images", Path.Combine(data.Market, folder),
                "--out", npz, "MODEL.WEIGHTS", Path.Combine(dir, "model_final.pth"));
            Assert.True(ec == 0, ee + eo);
        }
        var arrays = Npz.Read(q);
        int queries = Directory.GetFiles(Path.Combine(data.Market, "query")).Length;
        Assert.Equal([queries, 128L], arrays["features"].Shape);
        Assert.Equal([queries], arrays["pids"].Shape);
        var (evalCode, evalOut, evalErr) = CliRunner.Run(null, "evaluate", "--query", q, "--gallery", g, "--json");
        Assert.True(evalCode == 0, evalErr);
        Assert.InRange(JsonDocument.Parse(evalOut).RootElement.GetProperty("mAP").GetDouble(), 0, 1);
    }

    [Fact]
    public void Same_seed_gives_bit_identical_weights()
    {
        string Sha(string name)
        {
            var dir = Path.Combine(_out, name);
            var (code, stdout, stderr) = CliRunner.Run(data.Env, Tiny(dir, "SOLVER.MAX_EPOCH", "1", "SEED", "7"));
            Assert.True(code == 0, stderr + stdout);
            return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json"))).RootElement.GetProperty("weights_sha256").GetString()!;
        }
        Assert.Equal(Sha("a"), Sha("b"));
    }

    [Fact]
    public void Misspelled_key_fails_before_any_output_naming_the_key()
    {
        var dir = Path.Combine(_out, "typo");
        var (code, _, stderr) = CliRunner.Run(data.Env, Tiny(dir, "SOLVER.BASE_LRR", "0.1"));
        Assert.Equal(2, code); // a config error: the usage code, which a Job never retries
        Assert.Contains("unknown config key SOLVER.BASE_LRR (did you mean SOLVER.BASE_LR?)", stderr);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void A_data_parallel_setting_that_cannot_run_here_exits_before_any_output()
    {
        var dir = Path.Combine(_out, "ddp");
        var ddp = new Dictionary<string, string>(data.Env) { ["WORLD_SIZE"] = "2", ["RANK"] = "0", ["MASTER_ADDR"] = "127.0.0.1", ["MASTER_PORT"] = "29999" };
        // the nccl backend on a machine without CUDA or NCCL: 4, which the experiment Job's podFailurePolicy fails at once
        var (code, _, stderr) = CliRunner.Run(new Dictionary<string, string>(ddp) { ["FASTREID_DIST_BACKEND"] = "nccl" }, Tiny(dir));
        Assert.Equal(4, code);
        Assert.Contains("nccl", stderr);
        Assert.Contains("tcp", stderr); // what to use instead
        Assert.False(Directory.Exists(dir));
        // a rendezvous nobody can reach is named, not waited on forever
        ddp.Remove("MASTER_ADDR");
        (code, _, stderr) = CliRunner.Run(ddp, Tiny(dir));
        Assert.Equal(1, code);
        Assert.Contains("MASTER_ADDR", stderr);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void Missing_dataset_folder_is_named()
    {
        var empty = Directory.CreateTempSubdirectory("no-data-").FullName;
        var (code, _, stderr) = CliRunner.Run(new Dictionary<string, string> { ["FASTREID_DATASETS"] = empty }, Tiny(Path.Combine(_out, "nodata")));
        Directory.Delete(empty);
        Assert.Equal(1, code);
        Assert.Contains("Market-1501-v15.09.15", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
    }

    [Fact]
    public void Unwritable_output_dir_is_named()
    {
        var file = Path.Combine(_out, "a-file");
        File.WriteAllText(file, "");
        var (code, _, stderr) = CliRunner.Run(data.Env, Tiny(Path.Combine(file, "sub")));
        Assert.Equal(1, code);
        Assert.Contains("OUTPUT_DIR", stderr);
        Assert.Contains("a-file", stderr);
    }

    [Fact]
    public void Corrupt_training_image_is_named_and_leaves_no_final_model()
    {
        var copy = Path.Combine(_out, "data");
        CopyDirectory(data.Root, copy);
        var victim = Directory.GetFiles(Path.Combine(copy, "Market-1501-v15.09.15", "bounding_box_train")).Order().First();
        File.WriteAllBytes(victim, [1, 2, 3, 4]);
        var dir = Path.Combine(_out, "corrupt");
        var (code, stdout, stderr) = CliRunner.Run(new Dictionary<string, string> { ["FASTREID_DATASETS"] = copy }, Tiny(dir));
        Assert.True(code == 1, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains(Path.GetFileName(victim), stderr);
        Assert.False(File.Exists(Path.Combine(dir, "model_final.pth")));
        Assert.False(File.Exists(Path.Combine(dir, "result.json")));
    }

    [Fact]
    public void Help_is_available_everywhere()
    {
        foreach (var cmd in new[] { new[] { "train" }, ["embed"], ["evaluate"], ["data", "synth"], ["bench", "train"], ["bench", "export"] })
        {
            var (code, stdout, _) = CliRunner.Run(null, [.. cmd, "--help"]);
            Assert.Equal(0, code);
            Assert.Contains("Usage: fastreid " + string.Join(" ", cmd), stdout);
        }
        var (c2, _, e2) = CliRunner.Run(null, "trian");
        Assert.Equal(2, c2);
        Assert.Contains("did you mean 'train'", e2);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to));
    }
}
