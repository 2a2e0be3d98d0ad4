using System.Globalization;
using FastReid.Config;

namespace FastReid.Engine;

/// <summary>One config key whose value differs between a checkpoint and the run resuming it.</summary>
public sealed record ConfigChange(string Key, string Checkpoint, string Current, string? Note = null)
{
    public override string ToString() => $"{Key} {Checkpoint} -> {Current}{(Note is null ? "" : $" ({Note})")}";
}

/// <summary>
/// The keys that differ: <see cref="Refused"/> change what is trained, <see cref="Allowed"/> are safe to change.
/// <see cref="Recorded"/> is false for a checkpoint that records no config (then only SEED was compared).
/// </summary>
public sealed record ResumeComparison(IReadOnlyList<ConfigChange> Refused, IReadOnlyList<ConfigChange> Allowed, bool Recorded);

/// <summary>
/// Whether a run may resume a checkpoint. The checkpoint records its effective config (<see cref="Record"/>);
/// the resuming run's effective config is compared with it key by key. A key that changes what is trained
/// (model, initial weights, data, sampler stream, augmentation, loss, optimizer, schedule, evaluation that
/// picks the best model) refuses the resume; the keys of <see cref="SafeKeys"/> may change. SEED is compared
/// as the seed the checkpoint actually used: SEED -1 adopts it, any other value must equal it.
/// <para>
/// A key the checkpoint does not record (added to the schema later) counts as its default there; a key it
/// records that the schema no longer has is ignored (nothing here could act on it). A checkpoint that records
/// no config at all (written before configs were recorded) is resumed with only SEED compared, and says so:
/// refusing would strand every run checkpointed by an earlier version.
/// </para>
/// </summary>
public static class ResumeCheck
{
    /// <summary>
    /// Keys safe to change on resume, each with why: they change when or where the run does things, not what
    /// it trains. The budget keys are here because a tuning promotion resumes a trial with a larger budget.
    /// </summary>
    public static IReadOnlyDictionary<string, string> SafeKeys { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [BudgetKeys.MaxEpoch.Key] = "the budget; at least the epochs the checkpoint has done, and a schedule that depends on it " +
            "(CosineAnnealingLR) follows the new value from the resumed iteration on",
        ["SOLVER.CHECKPOINT_PERIOD"] = "when checkpoints are written",
        ["TEST.EVAL_PERIOD"] = "when evaluations run (the best model is chosen among the epochs evaluated)",
        ["TEST.IMS_PER_BATCH"] = "the evaluation batch (eval mode: the features do not depend on it)",
        ["DATALOADER.NUM_WORKERS"] = "decoding threads (each sample is augmented from its own seed: the batches are the same)",
        ["MODEL.DEVICE"] = "where the run computes (the same training, not bit-identical across devices)",
        ["CUDNN_BENCHMARK"] = "cuDNN algorithm choice (CUDA only)",
        ["OUTPUT_DIR"] = "where the run writes (an output moved elsewhere resumes there)",
        ["RESUME"] = "how the run was started",
    };

    /// <summary>What a checkpoint records: every key of the effective config with its value as config.yaml writes it.</summary>
    public static SortedDictionary<string, string> Record(FastReidConfig cfg)
    {
        var recorded = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in ConfigSchema.Keys) recorded[key.Name] = ConfigValueParser.Format(cfg[key.Name]);
        return recorded;
    }

    /// <param name="seed">the seed this run uses</param>
    /// <param name="seedWasPicked">SEED is -1: the run adopts the checkpoint's seed</param>
    public static ResumeComparison Compare(TrainerState checkpoint, FastReidConfig current, int seed, bool seedWasPicked)
    {
        var refused = new List<ConfigChange>();
        var allowed = new List<ConfigChange>();
        if (!seedWasPicked && checkpoint.Seed != seed)
            refused.Add(new ConfigChange("SEED", Invariant(checkpoint.Seed), Invariant(seed)));
        if (checkpoint.Config is { } recorded)
        {
            foreach (var key in ConfigSchema.Keys.Where(k => k.Name != "SEED"))
            {
                var was = recorded.TryGetValue(key.Name, out var value) ? value : ConfigValueParser.Format(key.Default);
                var now = ConfigValueParser.Format(current[key.Name]);
                if (was == now) continue;
                var change = new ConfigChange(key.Name, was, now);
                if (!SafeKeys.ContainsKey(key.Name)) refused.Add(change);
                else if (key.Name == BudgetKeys.MaxEpoch.Key && current.Int(key.Name) < checkpoint.Epoch)
                    refused.Add(change with { Note = $"the checkpoint has done {checkpoint.Epoch} epochs already" });
                else allowed.Add(change);
            }
        }
        return new ResumeComparison(refused, allowed, checkpoint.Config is not null);
    }

    /// <summary>The refusal: one line naming every key with the checkpoint's and this run's values.</summary>
    public static InputRefusedException Refusal(string checkpoint, ResumeComparison comparison) => new(
        $"cannot resume from checkpoint {checkpoint}: it was trained with a different config " +
        $"({string.Join("; ", comparison.Refused.Select(c => $"{c.Key}: {c.Checkpoint} in the checkpoint, {c.Current} now{(c.Note is null ? "" : $" ({c.Note})")}"))}). " +
        "These keys change what is trained: resume with the same config, or use a new OUTPUT_DIR");

    /// <summary>The one log line for the safe keys that changed; null when none did.</summary>
    public static string? AllowedLine(string checkpoint, ResumeComparison comparison, long iteration)
    {
        if (comparison.Allowed.Count == 0) return null;
        var changes = comparison.Allowed.Select(c => c.Key == BudgetKeys.MaxEpoch.Key
            ? c with { Note = $"the LR schedule follows {c.Current} from iteration {Invariant(iteration)} on" }
            : c);
        return $"resuming checkpoint {checkpoint} with keys that are safe to change: {string.Join(", ", changes)}";
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
