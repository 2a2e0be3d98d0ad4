using System.Text.Json;
using FastReid.Contracts;

namespace FastReid.Cli.Tests;

/// <summary>
/// The tiny synthetic set of <see cref="TinyDataset"/> (8 training identities, 3 cameras) with its test folders deleted:
/// a run that reads its query or gallery fails, so a run that succeeds here never opened the test set.
/// </summary>
public sealed class TrainOnlyDataset : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("cli-trainonly-").FullName;

    public TrainOnlyDataset()
    {
        var (code, _, err) = CliRunner.Run(null, "data", "synth", "--out", Root, "--identities", "16", "--cameras", "3", "--seed", "2",
            "--width", "32", "--height", "64", "--train-images", "8", "--gallery-images", "4");
        if (code != 0) throw new InvalidOperationException("data synth failed: " + err);
        var market = Path.Combine(Root, "Market-1501-v15.09.15");
        Directory.Delete(Path.Combine(market, "query"), recursive: true);
        Directory.Delete(Path.Combine(market, "bounding_box_test"), recursive: true);
    }

    public Dictionary<string, string> Env => new() { ["FASTREID_DATASETS"] = Root };

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// <c>fastreid train</c> with DATASETS.VALIDATION.IDENTITY_FRACTION: trained on the other identities, evaluated
/// (periodically, finally, for model_best.pth) on the held-out ones, reported as validation metrics, the test set
/// never read; a resume holds out the same identities and refuses another fraction (exit 2); every rank of a
/// data-parallel run holds out the same ones.
/// </summary>
public sealed class ValidationSplitTrainingTests(TrainOnlyDataset data) : IClassFixture<TrainOnlyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-valsplit-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static string[] Train(string dir, params string[] more) =>
        TrainCommandTests.Tiny(dir, ["SOLVER.CHECKPOINT_PERIOD", "1", "SEED", "11",
            "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.25", "DATASETS.VALIDATION.SEED", "5", .. more]);

    private static JsonElement Json(string dir, string file) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, file))).RootElement;

    [Fact]
    public void Training_is_scored_on_held_out_identities_without_the_test_set_and_a_resume_keeps_them()
    {
        var dir = Path.Combine(_out, "run");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Train(dir));
        Assert.True(code == 0, stderr + stdout);
        // 8 training identities: round(0.25 x 8) = 2 held out, 6 trained on (8 images each)
        Assert.Contains("training set: 48 images, 6 identities (Market1501)", stdout);
        Assert.Matches(@"evaluating on 2 validation identities \(\d+ query, \d+ gallery images\), not the test set", stdout);
        Assert.DoesNotContain("test set Market1501", stdout);
        Assert.Contains("evaluation of validation after epoch 1 ", stdout);
        Assert.Contains("evaluation of validation after epoch 2 ", stdout);
        Assert.True(File.Exists(Path.Combine(dir, "model_best.pth")));

        var metrics = Json(dir, "metrics.json");
        Assert.Equal("validation", metrics.GetProperty("evaluatedOn").GetString());
        var validation = metrics.GetProperty("validation");
        Assert.Equal(2, validation.GetProperty("identities").GetInt32());
        var heldOut = validation.GetProperty("held_out").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(2, heldOut.Count);
        Assert.All(heldOut, h => Assert.StartsWith("Market1501:", h));
        var query = validation.GetProperty("query").GetInt32();
        Assert.InRange(query, 4, 6); // one per camera of each held-out identity (2 or 3 cameras each)
        Assert.Equal(16 - query, validation.GetProperty("gallery").GetInt32());
        foreach (var key in new[] { "mAP", "rank1" }) Assert.InRange(metrics.GetProperty(key).GetDouble(), 0, 1);

        // the operator's reader sees which split the metrics are of
        var result = RunResult.TryParse(File.ReadAllText(Path.Combine(dir, "result.json")), "result.json", out var error);
        Assert.True(result is not null, error);
        Assert.Equal(RunResult.EvaluatedOnValidation, result!.EvaluatedOn);
        Assert.Equal(metrics.GetProperty("mAP").GetDouble(), result.Metrics!.MAP);

        // another fraction changes what is trained: refused as a usage error, not retried
        (code, stdout, stderr) = CliRunner.Run(data.Env, [.. Train(dir, "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.5"), "--resume"]);
        Assert.True(code == 2, $"exit code {code}, expected 2:\n{stderr}{stdout}");
        Assert.Contains("DATASETS.VALIDATION.IDENTITY_FRACTION: 0.25 in the checkpoint, 0.5 now", stderr);
        (code, stdout, stderr) = CliRunner.Run(data.Env, [.. Train(dir, "DATASETS.VALIDATION.SEED", "6"), "--resume"]);
        Assert.True(code == 2, $"exit code {code}, expected 2:\n{stderr}{stdout}");
        Assert.Contains("DATASETS.VALIDATION.SEED: 5 in the checkpoint, 6 now", stderr);

        // the same settings resume with a larger budget and hold out the same identities
        (code, stdout, stderr) = CliRunner.Run(data.Env, [.. Train(dir, "SOLVER.MAX_EPOCH", "3"), "--resume"]);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("resumed from checkpoint", stdout);
        Assert.Contains("evaluation of validation after epoch 3 ", stdout);
        Assert.Equal(heldOut, Json(dir, "metrics.json").GetProperty("validation").GetProperty("held_out").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Without_a_validation_split_the_same_data_needs_its_test_set_and_bad_fractions_are_refused()
    {
        // the control: these folders are what a run without the split reads
        var (code, stdout, stderr) = CliRunner.Run(data.Env, TrainCommandTests.Tiny(Path.Combine(_out, "test")));
        Assert.True(code == 1, $"exit code {code}:\n{stderr}{stdout}");
        Assert.Contains("query' does not exist", stderr);

        // config errors: the usage code (2), which a Job never retries
        (code, stdout, stderr) = CliRunner.Run(data.Env, TrainCommandTests.Tiny(Path.Combine(_out, "one"), "DATASETS.VALIDATION.IDENTITY_FRACTION", "1"));
        Assert.True(code == 2, $"exit code {code}:\n{stderr}{stdout}");
        Assert.Contains("DATASETS.VALIDATION.IDENTITY_FRACTION: must be at least 0 and below 1 (got 1)", stderr);
        (code, stdout, stderr) = CliRunner.Run(data.Env, TrainCommandTests.Tiny(Path.Combine(_out, "few"), "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.1"));
        Assert.True(code == 2, $"exit code {code}:\n{stderr}{stdout}");
        Assert.Contains("DATASETS.VALIDATION.IDENTITY_FRACTION 0.1 of 8 training identities holds out 1; a validation split needs at least 2", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void Data_parallel_ranks_hold_out_the_same_identities_and_refuse_to_train_on_different_ones()
    {
        string[] Args(string d, string seed) => DistributedTrainingTests.Args(d, "SOLVER.MAX_EPOCH", "1", "TEST.EVAL_PERIOD", "1",
            "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.25", "DATASETS.VALIDATION.SEED", seed);
        var dir = Path.Combine(_out, "two");
        var stdout = DistributedTrainingTests.RunWorld(data.Env, 2, Args(dir, "5"));
        Assert.Contains("data-parallel: 2 ranks", stdout);
        Assert.Contains("evaluating on 2 validation identities", stdout);
        Assert.Contains("evaluation of validation after epoch 1 ", stdout);
        Assert.Equal("validation", Json(dir, "metrics.json").GetProperty("evaluatedOn").GetString());

        // a rank that would hold out others (here: another validation seed) stops every rank before training
        int port = DistributedTrainingTests.FreePort();
        var other = Path.Combine(_out, "mismatch");
        using var r0 = new DistributedTrainingTests.Rank(data.Env, 0, 2, port, Args(other, "5"));
        using var r1 = new DistributedTrainingTests.Rank(data.Env, 1, 2, port, Args(other, "9"));
        int c0 = r0.Exit(TimeSpan.FromMinutes(2)), c1 = r1.Exit(TimeSpan.FromMinutes(2));
        Assert.True(c0 == 1 && c1 == 1, $"exit codes {c0}, {c1}:\n{r0.Stderr}\n{r1.Stderr}");
        Assert.Contains("rank(s) 1 held out other validation identities than rank 0", r0.Stderr);
        Assert.DoesNotContain("evaluation of", r0.Stdout);
    }
}
