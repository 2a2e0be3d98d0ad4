using System.Diagnostics;
using System.Text.Json;

namespace FastReid.Cli.Tests;

/// <summary>
/// A run SIGKILLed at random moments (also while checkpoints are being written) and resumed with
/// --resume ends with weights bit-identical to an uninterrupted run.
/// </summary>
public sealed class ResumeTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-resume-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    /// <param name="flag">resume with --resume instead of the config's RESUME auto</param>
    internal static string[] Args(string dir, bool resume, bool flag = false) =>
    [
        "train", "--config", Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml"), .. resume ? flag ? new[] { "--resume" } : ["RESUME", "auto"] : [],
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "SOLVER.MAX_EPOCH", "8",
        "TEST.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.WARMUP_ITERS", "3", "SEED", "11", "OUTPUT_DIR", dir,
    ];

    private static string WeightsSha(string dir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json"))).RootElement.GetProperty("weights_sha256").GetString()!;

    [Fact]
    public void Sigkilled_three_times_and_resumed_matches_the_uninterrupted_run()
    {
        var reference = Path.Combine(_out, "reference");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Args(reference, resume: false));
        Assert.True(code == 0, stderr + stdout);
        var dir = Path.Combine(_out, "killed");
        var resumed = KillThreeTimesThenFinish(data.Env, dir, () => Checkpoints(dir));
        Assert.Contains("resumed from checkpoint", resumed);
        Assert.Equal(WeightsSha(reference), WeightsSha(dir));
    }

    /// <summary>Starts the run with --resume three times, SIGKILLing it at a random moment after a new checkpoint; then lets it finish.</summary>
    internal static string KillThreeTimesThenFinish(IReadOnlyDictionary<string, string> env, string dir, Func<int> checkpoints, bool flag = false)
    {
        var rng = new Random(2024);
        int kills = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "fastreid"))
            {
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = CliRunner.RepoRoot,
            };
            foreach (var a in Args(dir, resume: true, flag)) start.ArgumentList.Add(a);
            foreach (var (k, v) in env) start.Environment[k] = v;
            using var p = Process.Start(start)!;
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            // wait for one more checkpoint than before, then kill after a random extra moment
            int before = checkpoints();
            var watch = Stopwatch.StartNew();
            while (!p.HasExited && checkpoints() <= before && watch.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(50);
            Thread.Sleep(rng.Next(0, 800)); // short enough that a fast machine still gets three kills in
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true); // SIGKILL
                kills++;
            }
            p.WaitForExit();
        }
        Assert.True(kills >= 2, $"only {kills} kills landed before the run finished");
        var (c2, o2, e2) = CliRunner.Run(env, Args(dir, resume: true, flag));
        Assert.True(c2 == 0, e2 + o2);
        return o2;
    }

    private static int Checkpoints(string dir)
    {
        var root = Path.Combine(dir, "checkpoints");
        return Directory.Exists(root) ? Directory.GetFiles(root, "checkpoint.json", SearchOption.AllDirectories).Length : 0;
    }
}
