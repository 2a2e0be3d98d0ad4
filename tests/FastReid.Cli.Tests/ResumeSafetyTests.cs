using FastReid.Storage;

namespace FastReid.Cli.Tests;

/// <summary>
/// A resume continues only the training its checkpoint belongs to: another config is refused (exit code 2,
/// never retried by a Job) naming each key, keys safe to change are allowed and listed, and with a run id
/// (the operator's) another run's checkpoints are passed over.
/// </summary>
public sealed class ResumeSafetyTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-resume-safety-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static string[] Train(string dir, params string[] more) =>
        TrainCommandTests.Tiny(dir, ["SOLVER.CHECKPOINT_PERIOD", "1", "SEED", "11", .. more]);

    private static Dictionary<string, string> WithRun(Dictionary<string, string> env, string run)
    {
        env["FASTREID_RUN_ID"] = run;
        return env;
    }

    /// <summary>Every file of the output but the log (which a refused run appends to), with its digest.</summary>
    private static Dictionary<string, string> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != "log.txt")
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Sha256.Of(File.ReadAllBytes(f)));

    [Fact]
    public void A_changed_learning_rate_is_refused_naming_both_values_and_a_larger_budget_resumes()
    {
        var dir = Path.Combine(_out, "run");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Train(dir));
        Assert.True(code == 0, stderr + stdout);
        var before = Snapshot(dir);

        (code, stdout, stderr) = CliRunner.Run(data.Env, [.. Train(dir, "SOLVER.BASE_LR", "0.001"), "--resume"]);
        Assert.True(code == 2, $"exit code {code}, expected 2 (do not retry):\n{stderr}{stdout}");
        Assert.Contains("cannot resume from checkpoint model_", stderr);
        Assert.Contains("SOLVER.BASE_LR: 0.00035 in the checkpoint, 0.001 now", stderr);
        Assert.Contains("resume with the same config, or use a new OUTPUT_DIR", stderr);
        Assert.DoesNotContain("   at ", stderr); // a message, not a stack trace
        Assert.Equal(before, Snapshot(dir));

        (code, stdout, stderr) = CliRunner.Run(data.Env, [.. Train(dir, "SOLVER.MAX_EPOCH", "3", "TEST.EVAL_PERIOD", "3"), "--resume"]);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("keys that are safe to change: SOLVER.MAX_EPOCH 2 -> 3 (the LR schedule follows 3 from iteration", stdout);
        Assert.Contains("TEST.EVAL_PERIOD 1 -> 3", stdout);
        Assert.Contains("resumed from checkpoint", stdout);
        Assert.Contains("| final (3 epochs)", stdout);
        Assert.DoesNotContain("after epoch 1 ", stdout); // epochs 1 and 2 were not trained again
    }

    [Fact]
    public void With_a_run_id_another_runs_checkpoints_are_passed_over_and_the_same_run_resumes()
    {
        var dir = Path.Combine(_out, "shared");
        var (code, stdout, stderr) = CliRunner.Run(WithRun(data.Env, "exp-aaaaaaaaaa"), Train(dir));
        Assert.True(code == 0, stderr + stdout);

        // the operator's next generation: a new run id, a changed config, the same output
        string[] changed = [.. Train(dir, "SOLVER.BASE_LR", "0.001", "SOLVER.MAX_EPOCH", "1"), "RESUME", "auto"];
        (code, stdout, stderr) = CliRunner.Run(WithRun(data.Env, "exp-bbbbbbbbbb"), changed);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("belongs to run exp-aaaaaaaaaa, not to this run (exp-bbbbbbbbbb)", stdout);
        Assert.Contains("no valid checkpoint of run exp-bbbbbbbbbb in OUTPUT_DIR, starting from scratch", stdout);
        Assert.Contains("evaluation of Market1501 after epoch 1 ", stdout);

        // a retry of that run resumes its own checkpoint (the only one left: its first save superseded the older run's)
        (code, stdout, stderr) = CliRunner.Run(WithRun(data.Env, "exp-bbbbbbbbbb"), changed);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("resumed from checkpoint model_", stdout);
        Assert.DoesNotContain("not resuming", stdout);
    }
}
