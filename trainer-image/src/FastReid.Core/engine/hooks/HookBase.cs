using FastReid.Evaluation;
using static TorchSharp.torch;

namespace FastReid.Engine.Hooks;

/// <summary>
/// FastReID's <c>HookBase</c>: a piece of training behaviour called at fixed points of the loop, in the
/// order hooks were registered. New behaviour is a new hook, not a branch in the loop. A hook reads the
/// trainer's state through <see cref="Trainer"/> and may end the run early with <see cref="TrainerBase.Stop"/>.
/// </summary>
public abstract class HookBase
{
    /// <summary>The trainer this hook is registered with (set on registration).</summary>
    public TrainerBase Trainer { get; internal set; } = null!;

    public virtual void BeforeTrain() { }
    public virtual void BeforeStep() { }
    public virtual void AfterStep() { }
    public virtual void AfterEpoch() { }
    public virtual void AfterTrain() { }

    /// <summary>After each evaluation, with the epochs done and the first test set's metrics (intermediate results, for tuning).</summary>
    public virtual void AfterEvaluation(int epoch, ReidMetrics metrics) { }
}

/// <summary>
/// A hook that adds weighted loss terms to every training step: called after the model's own losses and
/// before backward, so its terms are part of the gradient (and of the losses printed and exported).
/// </summary>
public interface ILossContributor
{
    /// <summary>Weighted terms by name, added after the model's (a name the step already has is an error).</summary>
    IReadOnlyDictionary<string, Tensor> ExtraLosses(Tensor images, Tensor targets);
}
