using FastReid.Config;
using FastReid.Engine;

namespace FastReid.Core.Tests.Engine;

/// <summary>What a checkpoint was trained with against the config resuming it: which keys refuse, which may change.</summary>
public sealed class ResumeCheckTests
{
    private static FastReidConfig Config(params string[] overrides)
    {
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(["SEED", "11", "SOLVER.MAX_EPOCH", "8", .. overrides]);
        return cfg;
    }

    /// <summary>A checkpoint after <paramref name="epochs"/> epochs of <paramref name="trainedWith"/> (null: one that records no config).</summary>
    private static TrainerState Checkpoint(FastReidConfig? trainedWith, int epochs = 4, int seed = 11) =>
        new(TrainerState.CurrentFormat, epochs, epochs * 10L, epochs * 10L, seed, "", null, 0, null, null,
            Config: trainedWith is null ? null : ResumeCheck.Record(trainedWith));

    [Fact]
    public void The_same_config_resumes_with_nothing_to_report()
    {
        var c = ResumeCheck.Compare(Checkpoint(Config()), Config(), seed: 11, seedWasPicked: false);
        Assert.Empty(c.Refused);
        Assert.Empty(c.Allowed);
        Assert.True(c.Recorded);
    }

    [Fact]
    public void Keys_that_change_what_is_trained_are_refused_with_both_values()
    {
        var c = ResumeCheck.Compare(Checkpoint(Config()),
            Config("SOLVER.BASE_LR", "0.001", "MODEL.BACKBONE.DEPTH", "18x", "DATALOADER.NUM_INSTANCE", "8", "INPUT.FLIP.ENABLED", "True", "TEST.METRIC", "euclidean"),
            seed: 11, seedWasPicked: false);
        Assert.Equal(["DATALOADER.NUM_INSTANCE", "INPUT.FLIP.ENABLED", "MODEL.BACKBONE.DEPTH", "SOLVER.BASE_LR", "TEST.METRIC"], c.Refused.Select(r => r.Key).Order());
        Assert.Contains(new ConfigChange("SOLVER.BASE_LR", "0.0003", "0.001"), c.Refused);
        Assert.Contains(new ConfigChange("MODEL.BACKBONE.DEPTH", "'50x'", "'18x'"), c.Refused);
        var message = ResumeCheck.Refusal("model_0000040", c).Message;
        Assert.Contains("SOLVER.BASE_LR: 0.0003 in the checkpoint, 0.001 now", message);
        Assert.Contains("resume with the same config, or use a new OUTPUT_DIR", message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Safe_keys_may_change_and_are_listed_in_one_line()
    {
        var c = ResumeCheck.Compare(Checkpoint(Config()),
            Config("SOLVER.MAX_EPOCH", "12", "TEST.EVAL_PERIOD", "1", "SOLVER.CHECKPOINT_PERIOD", "3", "OUTPUT_DIR", "elsewhere", "RESUME", "auto",
                "DATALOADER.NUM_WORKERS", "2", "TEST.IMS_PER_BATCH", "16", "MODEL.DEVICE", "cpu"),
            seed: 11, seedWasPicked: false);
        Assert.Empty(c.Refused);
        Assert.Equal(8, c.Allowed.Count);
        var line = ResumeCheck.AllowedLine("model_0000040", c, iteration: 40)!;
        Assert.Contains("SOLVER.MAX_EPOCH 8 -> 12 (the LR schedule follows 12 from iteration 40 on)", line);
        Assert.Contains("TEST.EVAL_PERIOD 20 -> 1", line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void Max_epoch_below_the_epochs_already_done_is_refused()
    {
        var c = ResumeCheck.Compare(Checkpoint(Config(), epochs: 6), Config("SOLVER.MAX_EPOCH", "5"), seed: 11, seedWasPicked: false);
        var change = Assert.Single(c.Refused);
        Assert.Equal("SOLVER.MAX_EPOCH", change.Key);
        Assert.Contains("6 epochs already", change.Note);
        // down to the epochs done is allowed: the run has nothing left but its final steps
        Assert.Empty(ResumeCheck.Compare(Checkpoint(Config(), epochs: 6), Config("SOLVER.MAX_EPOCH", "6"), seed: 11, seedWasPicked: false).Refused);
    }

    [Fact]
    public void Seed_minus_one_adopts_the_checkpoints_seed_and_any_other_must_match_it()
    {
        var picked = Config("SEED", "-1");
        Assert.Empty(ResumeCheck.Compare(Checkpoint(picked, seed: 123), picked, seed: 987, seedWasPicked: true).Refused);
        // a run that picked its seed, resumed with that seed written out, is the same run
        Assert.Empty(ResumeCheck.Compare(Checkpoint(picked, seed: 123), Config("SEED", "123"), seed: 123, seedWasPicked: false).Refused);
        var other = ResumeCheck.Compare(Checkpoint(Config(), seed: 11), Config("SEED", "12"), seed: 12, seedWasPicked: false);
        Assert.Equal(new ConfigChange("SEED", "11", "12"), Assert.Single(other.Refused));
    }

    [Fact]
    public void A_checkpoint_without_a_recorded_config_compares_only_the_seed()
    {
        var c = ResumeCheck.Compare(Checkpoint(trainedWith: null), Config("SOLVER.BASE_LR", "0.001"), seed: 11, seedWasPicked: false);
        Assert.False(c.Recorded);
        Assert.Empty(c.Refused);
        Assert.Equal("SEED", Assert.Single(ResumeCheck.Compare(Checkpoint(null, seed: 5), Config(), seed: 11, seedWasPicked: false).Refused).Key);
    }

    [Fact]
    public void A_key_the_checkpoint_does_not_record_counts_as_its_default()
    {
        var recorded = ResumeCheck.Record(Config());
        recorded.Remove("SOLVER.BASE_LR"); // as if the key had been added to the schema after the checkpoint was written
        var checkpoint = Checkpoint(Config()) with { Config = recorded };
        Assert.Empty(ResumeCheck.Compare(checkpoint, Config(), seed: 11, seedWasPicked: false).Refused);
        Assert.Equal("SOLVER.BASE_LR", Assert.Single(ResumeCheck.Compare(checkpoint, Config("SOLVER.BASE_LR", "0.001"), seed: 11, seedWasPicked: false).Refused).Key);
    }

    [Fact]
    public void The_recorded_config_survives_the_trainer_state_file()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("resume-check-").FullName, "trainer_state.json");
        try
        {
            var state = Checkpoint(Config("SOLVER.BASE_LR", "0.001")) with { Run = "market-r50-0a1b2c3d4e" };
            File.WriteAllBytes(path, state.ToJsonBytes());
            var read = TrainerState.Read(path);
            Assert.Equal("market-r50-0a1b2c3d4e", read.Run);
            Assert.Empty(ResumeCheck.Compare(read, Config("SOLVER.BASE_LR", "0.001"), seed: 11, seedWasPicked: false).Refused);
            // a state written before configs were recorded (no "run", no "config") still reads
            File.WriteAllText(path, """{"format": "fastreid.trainer_state/v1", "epoch": 2, "iteration": 6, "data_position": 6, "seed": 11, "torch_rng_state": "", "best_score": null, "best_epoch": 0, "best": null, "last": null}""");
            var old = TrainerState.Read(path);
            Assert.Null(old.Config);
            Assert.Null(old.Run);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
