using System.Text.Json.Nodes;
using FastReid.Config;
using FastReid.Data.Synth;
using FastReid.Engine;
using FastReid.Engine.Hooks;
using FastReid.Evaluation;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Engine;

/// <summary>A tiny synthetic Market-1501 for in-process training runs (FASTREID_DATASETS points at it; no other Core test reads it).</summary>
public sealed class TinyDataset : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("trainer-hooks-data-").FullName;

    public TinyDataset()
    {
        SyntheticMarket.Write(Root, new SynthOptions(Identities: 8, Cameras: 2, Seed: 5, Width: 32, Height: 64, TrainImagesPerIdentity: 4, GalleryImagesPerIdentity: 2));
        Environment.SetEnvironmentVariable("FASTREID_DATASETS", Root);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>The hook-based trainer: hooks stop a run early, add loss terms, and receive each evaluation.</summary>
public sealed class TrainerHookTests(TinyDataset data) : IClassFixture<TinyDataset>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("trainer-hooks-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private TrainOutcome Train(string name, int maxEpoch, int evalPeriod, params HookBase[] hooks)
    {
        Assert.True(Directory.Exists(data.Root));
        var cfg = ConfigLoader.Load(Path.Combine(TestPaths.Configs, "Synthetic", "bagtricks_R18-cpu.yml"),
        [
            "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16", "MODEL.BACKBONE.WIDTH_MULT", "0.125",
            "MODEL.BACKBONE.FEAT_DIM", "64", "SOLVER.MAX_EPOCH", $"{maxEpoch}", "TEST.EVAL_PERIOD", $"{evalPeriod}", "SOLVER.CHECKPOINT_PERIOD", "0",
            "SOLVER.WARMUP_ITERS", "2", "INPUT.PADDING.SIZE", "2", "DATALOADER.NUM_WORKERS", "1", "OUTPUT_DIR", Path.Combine(_out, name),
        ]);
        return DefaultTrainer.Train(cfg, new TrainOptions(Output: TextWriter.Null, Interactive: false, Hooks: hooks));
    }

    private sealed class StopAfter(int epochs) : HookBase
    {
        public override void AfterEpoch()
        {
            if (Trainer.EpochsDone == epochs) Trainer.Stop($"test stop after {epochs}");
        }
    }

    [Fact]
    public void A_hook_stops_the_run_early_and_the_result_reports_the_budget_used()
    {
        var outcome = Train("stop", maxEpoch: 3, evalPeriod: 0, new StopAfter(1));
        Assert.Equal(1, outcome.Epochs);
        Assert.Equal("test stop after 1", outcome.StopReason);
        var result = JsonNode.Parse(File.ReadAllText(Path.Combine(outcome.OutputDir, "result.json")))!;
        Assert.Equal("SOLVER.MAX_EPOCH", (string?)result["budget"]!["key"]);
        Assert.Equal(1, (int)result["budget"]!["used"]!);
        // it finishes as a full run does: evaluated, final weights, a checkpoint of the epoch it stopped in
        Assert.NotNull(outcome.Final);
        Assert.True(File.Exists(Path.Combine(outcome.OutputDir, "model_final.pth")));
        var checkpoint = Assert.Single(Directory.GetDirectories(Path.Combine(outcome.OutputDir, "checkpoints")));
        Assert.Equal(1, TrainerState.Read(Path.Combine(checkpoint, "trainer_state.json")).Epoch);
    }

    /// <summary>Weight decay by hand: a term of the weights themselves, so it reaches the gradient.</summary>
    private sealed class L2Term : HookBase, ILossContributor
    {
        public List<IReadOnlyDictionary<string, double>> Seen { get; } = [];

        public IReadOnlyDictionary<string, Tensor> ExtraLosses(Tensor images, Tensor targets) => new Dictionary<string, Tensor>
        {
            ["loss_l2"] = Trainer.Model.parameters().Where(p => p.requires_grad).Select(p => p.pow(2).sum()).Aggregate((a, b) => a + b) * 0.05,
        };

        public override void AfterStep() => Seen.Add(Trainer.LastLosses);
    }

    [Fact]
    public void A_hook_that_adds_a_loss_term_is_part_of_the_step()
    {
        var plain = Train("plain", maxEpoch: 1, evalPeriod: 0);
        var l2 = new L2Term();
        var withTerm = Train("l2", maxEpoch: 1, evalPeriod: 0, l2);
        Assert.All(l2.Seen, losses => Assert.Equal(["loss_cls", "loss_triplet", "loss_l2"], losses.Keys));
        Assert.All(l2.Seen, losses => Assert.True(losses["loss_l2"] > 0));
        Assert.NotEqual(plain.WeightsSha256, withTerm.WeightsSha256);
    }

    private sealed class Reports : HookBase
    {
        public List<(int Epoch, ReidMetrics Metrics)> Seen { get; } = [];

        public override void AfterEvaluation(int epoch, ReidMetrics metrics) => Seen.Add((epoch, metrics));
    }

    [Fact]
    public void Every_evaluation_is_reported_to_the_hooks_with_its_epoch()
    {
        var reports = new Reports();
        var outcome = Train("reports", maxEpoch: 3, evalPeriod: 2, reports);
        Assert.Equal([2, 3], reports.Seen.Select(r => r.Epoch));
        Assert.Equal(outcome.Final, reports.Seen[^1].Metrics);
    }
}
