using FastReid.Storage;
using TorchSharp;

namespace FastReid.Engine;

/// <summary>
/// Saves and restores training checkpoints through the run's <see cref="CheckpointStore"/>: model and
/// optimizer state plus <see cref="TrainerState"/>, objects first and the checkpoint manifest last, so a
/// crash at any byte never leaves a checkpoint that looks valid. Rank 0 only.
/// </summary>
public sealed class Checkpointing(TrainingSession session, RunContext run, int keepLast = 3)
{
    private readonly CheckpointStore _store = new(run.Storage, keepLast, run.Progress.Line);

    public IReadOnlyList<Storage.ManifestEntry> KeptEntries { get; private set; } = [];

    public void Save(TrainerState state, bool isBest)
    {
        var staging = Directory.CreateTempSubdirectory("fastreid-ckpt-").FullName;
        try
        {
            var modelPath = Path.Combine(staging, "model.pth");
            var optimizerPath = Path.Combine(staging, "optimizer.pth");
            WeightLoading.Save(session.Model, modelPath);
            session.Optimizer.save_state_dict(optimizerPath);
            _store.SaveAsync(new CheckpointRequest(state.Epoch, state.Iteration,
            [
                CheckpointFile.FromPath("model.pth", modelPath),
                CheckpointFile.FromPath("optimizer.pth", optimizerPath),
                CheckpointFile.FromBytes("trainer_state.json", state.ToJsonBytes()),
            ], isBest)).GetAwaiter().GetResult();
            KeptEntries = _store.ListAsync().GetAwaiter().GetResult().SelectMany(c => c.ArtefactEntries).ToList();
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Restores the newest checkpoint whose digests verify; null when there is none (a fresh start).</summary>
    public TrainerState? RestoreLatest()
    {
        var download = Directory.CreateTempSubdirectory("fastreid-resume-").FullName;
        try
        {
            var loaded = _store.LoadLatestValidAsync(download).GetAwaiter().GetResult();
            if (loaded is null) return null;
            var state = TrainerState.Read(loaded.Files["trainer_state.json"]);
            if (state.Seed != run.Seed && run.SeedWasPicked) run.AdoptSeed(state.Seed);
            else if (state.Seed != run.Seed)
                throw new FastReidException($"checkpoint {loaded.Info.Name} was made with SEED {state.Seed} but this run has SEED {run.Seed}; resume with the same config");
            WeightLoading.Load(session.Model, WeightLoading.ReadStateDict(loaded.Files["model.pth"], "checkpoint"), "", loaded.Info.Name);
            session.Optimizer.load_state_dict(loaded.Files["optimizer.pth"]);
            torch.set_rng_state(torch.tensor(Convert.FromBase64String(state.TorchRngState)));
            KeptEntries = _store.ListAsync().GetAwaiter().GetResult().SelectMany(c => c.ArtefactEntries).ToList();
            run.Progress.Line($"resumed from checkpoint {loaded.Info.Name}: {state.Epoch} epochs ({state.Iteration} iterations) done");
            return state;
        }
        finally
        {
            Directory.Delete(download, recursive: true);
        }
    }

    public static string RngState()
    {
        using var state = torch.get_rng_state();
        return Convert.ToBase64String(state.bytes.ToArray());
    }
}
