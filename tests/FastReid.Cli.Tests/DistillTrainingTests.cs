using System.Text.Json;

namespace FastReid.Cli.Tests;

/// <summary>
/// <c>fastreid train</c> with a Distiller config, as a DistillJob's student pod runs it: teachers from the
/// teacher run's published config and weights, checked against the digests in its result.
/// </summary>
public sealed class DistillTrainingTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-distill-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static string[] Tiny(string outputDir, params string[] more) => TrainCommandTests.Tiny(outputDir, ["TEST.EVAL_PERIOD", "2", .. more]);

    private (string Config, string Weights, string ConfigSha, string WeightsSha) TrainTeacher()
    {
        var dir = Path.Combine(_out, "teacher");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Tiny(dir, "MODEL.BACKBONE.WIDTH_MULT", "0.5", "MODEL.BACKBONE.FEAT_DIM", "256"));
        Assert.True(code == 0, stderr + stdout);
        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "result.json")));
        var sha = result.RootElement.GetProperty("sha256");
        return (Path.Combine(dir, "config.yaml"), Path.Combine(dir, "model_final.pth"), sha.GetProperty("config.yaml").GetString()!, sha.GetProperty("model_final.pth").GetString()!);
    }

    [Fact]
    public void A_student_trains_with_its_teachers_digests_checked_and_embeds_as_a_baseline()
    {
        var t = TrainTeacher();
        var dir = Path.Combine(_out, "student");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Tiny(dir, "MODEL.META_ARCHITECTURE", "DistillerOverhaul",
            "KD.MODEL_CONFIG", $"['{t.Config}']", "KD.MODEL_WEIGHTS", $"['{t.Weights}']",
            "KD.MODEL_CONFIG_SHA256", $"['{t.ConfigSha}']", "KD.MODEL_WEIGHTS_SHA256", $"['{t.WeightsSha}']"));
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains($"teacher 0: loaded", stdout);
        var log = File.ReadAllText(Path.Combine(dir, "log.txt"));
        Assert.Contains(" kd ", log);        // each loss term is logged
        Assert.Contains(" overhaul ", log);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        Assert.InRange(metrics.RootElement.GetProperty("mAP").GetDouble(), 0, 1);

        // the student's published config and weights embed without the teachers (a Baseline), loaded strictly:
        // its connectors (4 stages: conv weight, BN weight, bias, mean, var) are expected extras, left out
        var (ec, eo, ee) = CliRunner.Run(null, "embed", "--config", Path.Combine(dir, "config.yaml"), "--images", Path.Combine(data.Market, "query"),
            "--out", Path.Combine(_out, "q.npz"), "MODEL.WEIGHTS", Path.Combine(dir, "model_final.pth"));
        Assert.True(ec == 0, ee + eo);
        Assert.Contains("left out 20 distillation connector tensors (connectors_*", ee);
        Assert.DoesNotContain("not in the file", ee);
    }

    [Fact]
    public void A_teacher_whose_weights_changed_fails_before_training_naming_the_file()
    {
        var t = TrainTeacher();
        var dir = Path.Combine(_out, "student");
        var wrong = new string('a', 64);
        var (code, stdout, stderr) = CliRunner.Run(data.Env, Tiny(dir, "MODEL.META_ARCHITECTURE", "Distiller",
            "KD.MODEL_CONFIG", $"['{t.Config}']", "KD.MODEL_WEIGHTS", $"['{t.Weights}']", "KD.MODEL_WEIGHTS_SHA256", $"['{wrong}']"));
        Assert.True(code == 2, $"exit {code} (2: a retry cannot help)\n{stdout}\n{stderr}");
        Assert.Contains($"KD.MODEL_WEIGHTS[0] '{t.Weights}' has sha256 {t.WeightsSha} but KD.MODEL_WEIGHTS_SHA256[0] expects {wrong}", stderr);
        Assert.False(File.Exists(Path.Combine(dir, "model_final.pth")));
        Assert.False(Directory.Exists(Path.Combine(dir, "checkpoints")));
    }

    [Fact]
    public void A_distilled_run_sigkilled_and_resumed_matches_the_uninterrupted_run()
    {
        var t = TrainTeacher();
        string[] kd = ["MODEL.META_ARCHITECTURE", "DistillerOverhaul", "KD.MODEL_CONFIG", $"['{t.Config}']", "KD.MODEL_WEIGHTS", $"['{t.Weights}']"];
        var reference = Path.Combine(_out, "reference");
        var (code, stdout, stderr) = CliRunner.Run(data.Env, ResumeTests.Args(reference, resume: false, extra: kd));
        Assert.True(code == 0, stderr + stdout);
        var dir = Path.Combine(_out, "killed");
        var resumed = ResumeTests.KillThreeTimesThenFinish(data.Env, dir, () => ResumeTests.Checkpoints(dir), extra: kd);
        Assert.Contains("resumed from checkpoint", resumed);
        Assert.Equal(ResumeTests.WeightsSha(reference), ResumeTests.WeightsSha(dir)); // connectors and optimizer state come back too
    }
}
