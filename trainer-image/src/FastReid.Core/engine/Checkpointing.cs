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
/// <para>
/// Resuming checks what the checkpoint was trained with (<see cref="ResumeCheck"/>, on every rank alike, before
/// any weight is loaded). With a run id (<see cref="RunContext.RunId"/>), only checkpoints of that run are
/// resumed: the others in the output are an earlier run's (the operator's run of an older spec), and the run
/// starts from scratch, superseding them.
/// </para>
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
            var loaded = run.IsMain ? _store.LoadLatestValidAsync(download, OfAnotherRun).GetAwaiter().GetResult() : null;
            var (sharedName, files) = ShareWithRanks(loaded is null ? null : (loaded.Info.Name, loaded.Files), download);
            if (files is null || sharedName is not { } name) return null;
            var state = TrainerState.Read(files["trainer_state.json"]);
            var comparison = ResumeCheck.Compare(state, session.Config, run.Seed, run.SeedWasPicked);
            if (comparison.Refused.Count > 0) throw ResumeCheck.Refusal(name, comparison);
            if (!comparison.Recorded)
                run.Progress.Line($"checkpoint {name} records no config (written by an earlier version): only SEED was compared; resume it with the config it was trained with");
            else if (ResumeCheck.AllowedLine(name, comparison, state.Iteration) is { } allowed)
                run.Progress.Line(allowed);
            if (state.Seed != run.Seed) run.AdoptSeed(state.Seed);
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

    /// <summary>Why a verified checkpoint is not this run's (with a run id: it records another run, or none); null when it is.</summary>
    private string? OfAnotherRun(LoadedCheckpoint checkpoint)
    {
        if (run.RunId is not { } id) return null;
        var recorded = TrainerState.Read(checkpoint.Files["trainer_state.json"]).Run;
        return recorded == id ? null
            : $"it belongs to {(recorded is null ? "a run that recorded no id" : $"run {recorded}")}, not to this run ({id}): an earlier run of this output";
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
