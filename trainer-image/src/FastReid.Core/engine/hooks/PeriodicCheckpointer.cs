namespace FastReid.Engine.Hooks;

/// <summary>
/// FastReID's <c>PeriodicCheckpointer</c>: a checkpoint every <c>SOLVER.CHECKPOINT_PERIOD</c> epochs and after
/// the final one (also the epoch an early stop ended in), marked best when that epoch's evaluation improved
/// the best score. <see cref="SavedEpoch"/> tells the hooks after it (publishing) that one was written.
/// </summary>
public sealed class PeriodicCheckpointer(int period, Checkpointing checkpointing, Func<TrainerState> state) : HookBase
{
    /// <summary>The epochs done at the last checkpoint this run wrote; -1 before the first.</summary>
    public int SavedEpoch { get; private set; } = -1;

    public override void AfterEpoch()
    {
        if (Trainer.IsFinalEpoch || period > 0 && Trainer.EpochsDone % period == 0) Save();
    }

    public override void AfterTrain()
    {
        if (Trainer.EpochsDone > Trainer.StartEpoch && SavedEpoch != Trainer.EpochsDone) Save();
    }

    private void Save()
    {
        checkpointing.Save(state(), isBest: Trainer.BestEpoch == Trainer.EpochsDone);
        SavedEpoch = Trainer.EpochsDone;
    }
}
