using FastReid.Distributed;
using FastReid.Storage;
using TorchSharp;

namespace FastReid.Engine;

/// <summary>
/// Saves and restores training checkpoints through the run's <see cref="CheckpointStore"/>: model and
/// optimizer state plus <see cref="TrainerState"/>, objects first and the checkpoint manifest last, so a
/// crash at any byte never leaves a checkpoint that looks valid. Rank 0 alone saves (on other ranks
/// <see cref="Save"/> does nothing); on resume, rank 0 finds and verifies the checkpoint and hands its files to
/// every rank, so all ranks resume from the same one even when only rank 0 can reach OUTPUT_DIR.
/// </summary>
public sealed class Checkpointing(TrainingSession session, RunContext run, int keepLast = 3)
{
    private readonly CheckpointStore _store = new(run.Storage, keepLast, run.Progress.Line);

    public IReadOnlyList<Storage.ManifestEntry> KeptEntries { get; private set; } = [];

    private static readonly string[] Files = ["model.pth", "optimizer.pth", "trainer_state.json"];

    public void Save(TrainerState state, bool isBest)
    {
        if (!run.IsMain) return;
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
            var loaded = run.IsMain ? _store.LoadLatestValidAsync(download).GetAwaiter().GetResult() : null;
            var (sharedName, files) = ShareWithRanks(loaded is null ? null : (loaded.Info.Name, loaded.Files), download);
            if (files is null || sharedName is not { } name) return null;
            var state = TrainerState.Read(files["trainer_state.json"]);
            if (state.Seed != run.Seed && run.SeedWasPicked) run.AdoptSeed(state.Seed);
            else if (state.Seed != run.Seed)
                throw new FastReidException($"checkpoint {name} was made with SEED {state.Seed} but this run has SEED {run.Seed}; resume with the same config");
            WeightLoading.Load(session.Model, WeightLoading.ReadStateDict(files["model.pth"], "checkpoint"), "", name);
            session.Optimizer.load_state_dict(files["optimizer.pth"]);
            torch.set_rng_state(torch.tensor(Convert.FromBase64String(state.TorchRngState)));
            if (run.IsMain) KeptEntries = _store.ListAsync().GetAwaiter().GetResult().SelectMany(c => c.ArtefactEntries).ToList();
            run.Progress.Line($"resumed from checkpoint {name}: {state.Epoch} epochs ({state.Iteration} iterations) done");
            return state;
        }
        finally
        {
            Directory.Delete(download, recursive: true);
        }
    }

    /// <summary>Rank 0's verified checkpoint files, written into <paramref name="folder"/> on the other ranks.</summary>
    private (string? Name, IReadOnlyDictionary<string, string>? Files) ShareWithRanks((string Name, IReadOnlyDictionary<string, string> Files)? loaded, string folder)
    {
        var group = run.Collectives;
        if (group.WorldSize == 1) return (loaded?.Name, loaded?.Files);
        var name = DistributedState.BytesFromRankZero(loaded is { } l ? System.Text.Encoding.UTF8.GetBytes(l.Name) : null, group);
        if (name is null) return (null, null);
        var files = new Dictionary<string, string>();
        foreach (var file in Files)
        {
            var bytes = DistributedState.BytesFromRankZero(loaded is { } m ? File.ReadAllBytes(m.Files[file]) : null, group)!;
            var path = loaded?.Files[file] ?? Path.Combine(folder, file);
            if (loaded is null) File.WriteAllBytes(path, bytes);
            files[file] = path;
        }
        return (System.Text.Encoding.UTF8.GetString(name), files);
    }

    public static string RngState()
    {
        using var state = torch.get_rng_state();
        return Convert.ToBase64String(state.bytes.ToArray());
    }
}
