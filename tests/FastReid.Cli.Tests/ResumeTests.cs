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
    /// <param name="extra">more overrides (e.g. a Distiller's keys)</param>
    internal static string[] Args(string dir, bool resume, bool flag = false, string[]? extra = null) =>
    [
        "train", "--config", Path.Combine("trainer-image", "configs", "Synthetic", "bagtricks_R18-cpu.yml"), .. resume ? flag ? new[] { "--resume" } : ["RESUME", "auto"] : [],
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "SOLVER.MAX_EPOCH", "8",
        "TEST.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.WARMUP_ITERS", "3", "SEED", "11", "OUTPUT_DIR", dir, .. extra ?? [],
    ];

    internal static string WeightsSha(string dir) =>
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

    /// <summary>Evaluating after epoch 1 makes model_best.pth the first large file a run writes (before any checkpoint).</summary>
    private static readonly string[] FirstWriteIsTheBestModel = ["SOLVER.MAX_EPOCH", "2", "TEST.EVAL_PERIOD", "1", "SOLVER.CHECKPOINT_PERIOD", "2"];

    [Fact]
    public async Task A_run_killed_while_writing_an_artefact_publishes_no_temporary_file_in_its_manifest()
    {
        var dir = Path.Combine(_out, "killed-mid-write");
        // RLIMIT_FSIZE below the model's size: the kernel kills the trainer (SIGXFSZ) inside the first
        // weights write, exactly as a kill at that moment would, leaving the partial temporary file
        // (W^X off: the runtime's double-mapped code pages are files, and would hit the limit first)
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = CliRunner.RepoRoot };
        foreach (var a in new[] { "-c", "ulimit -f 256; exec \"$0\" \"$@\"", Path.Combine(AppContext.BaseDirectory, "fastreid") }.Concat(Args(dir, resume: false)).Concat(FirstWriteIsTheBestModel))
            start.ArgumentList.Add(a);
        CliRunner.ClearInherited(start.Environment);
        foreach (var (k, v) in data.Env) start.Environment[k] = v;
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        using (var p = Process.Start(start)!)
        {
            var err = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await p.WaitForExitAsync(limit.Token);
            Assert.True(p.ExitCode == 128 + 25, $"expected death by SIGXFSZ, got exit code {p.ExitCode}: {await err}");
        }
        var leftovers = Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f).StartsWith('.')).ToList();
        Assert.True(leftovers.Count > 0, "the kill did not land inside a write: " + string.Join(", ", Directory.GetFiles(dir)));

        var (code, stdout, stderr) = CliRunner.Run(data.Env, [.. Args(dir, resume: true, flag: true), .. FirstWriteIsTheBestModel]);
        Assert.True(code == 0, stderr + stdout);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var listed = manifest.RootElement.GetProperty("artefacts").EnumerateArray().Select(f => f.GetProperty("path").GetString()!).ToList();
        Assert.Contains("model_final.pth", listed);
        Assert.DoesNotContain(listed, path => path.Split('/').Any(part => part.StartsWith('.')));
        foreach (var entry in manifest.RootElement.GetProperty("artefacts").EnumerateArray())
            Assert.Equal(entry.GetProperty("sha256").GetString(), FastReid.Storage.Sha256.Of(File.ReadAllBytes(Path.Combine(dir, entry.GetProperty("path").GetString()!))));
    }

    /// <summary>Starts the run with --resume three times, SIGKILLing it at a random moment after a new checkpoint; then lets it finish.</summary>
    internal static string KillThreeTimesThenFinish(IReadOnlyDictionary<string, string> env, string dir, Func<int> checkpoints, bool flag = false, string[]? extra = null)
    {
        var rng = new Random(2024);
        int kills = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            using var p = CliRunner.Start(env, Args(dir, resume: true, flag, extra));
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
        var (c2, o2, e2) = CliRunner.Run(env, Args(dir, resume: true, flag, extra));
        Assert.True(c2 == 0, e2 + o2);
        return o2;
    }

    internal static int Checkpoints(string dir)
    {
        var root = Path.Combine(dir, "checkpoints");
        return Directory.Exists(root) ? Directory.GetFiles(root, "checkpoint.json", SearchOption.AllDirectories).Length : 0;
    }
}
