namespace FastReid.Engine.Hooks;

/// <summary>
/// FastReID's <c>LRScheduler</c> hook: before each step, every parameter group's rate from the schedule at
/// (iteration, epoch). Per step because warmup is per iteration; the schedule is a pure function, so a
/// resumed run gets the same rates.
/// </summary>
public sealed class LRScheduler(TrainStep step) : HookBase
{
    public override void BeforeStep() => step.SetLearningRate(Trainer.Iteration, Trainer.Epoch);
}
