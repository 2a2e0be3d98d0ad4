using FastReid.Engine.Hooks;
using FastReid.Evaluation;
using FastReid.Modeling.MetaArch;

namespace FastReid.Engine;

/// <summary>
/// FastReID's <c>TrainerBase</c>: the epoch/iteration loop and its hooks. Each step runs
/// <c>BeforeStep</c> hooks, <see cref="RunStep"/>, then <c>AfterStep</c> hooks; each epoch ends with
/// <c>AfterEpoch</c> hooks; <c>AfterTrain</c> hooks run once the loop is over, also after an early stop.
/// A <see cref="Stop"/> takes effect at the end of the current epoch (the budget's unit), so every hook
/// sees a whole epoch and the run finishes as a normal one does.
/// </summary>
public abstract class TrainerBase
{
    private readonly List<HookBase> _hooks = [];

    public IReadOnlyList<HookBase> Hooks => _hooks;
    /// <summary>The current epoch, 0-based (during AfterEpoch: the epoch just finished).</summary>
    public int Epoch { get; private set; }
    /// <summary>Epochs completed, this run and the checkpoint it resumed included.</summary>
    public int EpochsDone { get; private set; }
    /// <summary>The epoch this run started from (0, or the resumed checkpoint's).</summary>
    public int StartEpoch { get; private set; }
    public int MaxEpoch { get; private set; }
    public int ItersPerEpoch { get; }
    /// <summary>Steps done, over the whole run (a step's BeforeStep hooks see the count before it).</summary>
    public long Iteration { get; protected set; }
    /// <summary>The step in the current epoch, 1-based.</summary>
    public int IterInEpoch { get; private set; }
    /// <summary>The loss terms of the last step.</summary>
    public IReadOnlyDictionary<string, double> LastLosses { get; private set; } = new Dictionary<string, double>();
    /// <summary>Why a hook stopped the run early; null while it runs its full budget.</summary>
    public string? StopReason { get; private set; }

    /// <summary>The last evaluation's metrics and the best one by (mAP + R1) / 2 (FastReID's model_best).</summary>
    public ReidMetrics? LastMetrics { get; internal set; }
    public ReidMetrics? Best { get; internal set; }
    public int BestEpoch { get; internal set; }
    public double BestScore { get; internal set; } = double.NegativeInfinity;

    /// <summary>True in the epoch the loop ends after: the budget's last, or the one a hook stopped in.</summary>
    public bool IsFinalEpoch => Epoch + 1 == MaxEpoch || StopReason is not null;

    protected TrainerBase(int itersPerEpoch) => ItersPerEpoch = itersPerEpoch;

    public void Register(params IEnumerable<HookBase> hooks)
    {
        foreach (var hook in hooks)
        {
            hook.Trainer = this;
            _hooks.Add(hook);
        }
    }

    /// <summary>Ends the run after the current epoch; the first reason given is kept.</summary>
    public void Stop(string reason) => StopReason ??= reason;

    /// <summary>The model being trained (hooks that add losses or inspect weights use it).</summary>
    public abstract MetaArch Model { get; }

    /// <summary>
    /// Data-parallel runs stop together: a reason any rank's hooks gave ends every rank's loop at this epoch (the
    /// hooks' AfterTrain then checkpoint and evaluate that epoch as for a stop of their own).
    /// </summary>
    protected virtual string? AgreeOnStop(string? reason) => reason;

    /// <summary>One optimisation step at <see cref="Iteration"/>; returns its loss terms.</summary>
    protected abstract IReadOnlyDictionary<string, double> RunStep();

    /// <summary>Called by the evaluation hook: records the metrics and hands them to every hook.</summary>
    public void ReportEvaluation(int epoch, ReidMetrics metrics)
    {
        LastMetrics = metrics;
        foreach (var h in _hooks) h.AfterEvaluation(epoch, metrics);
    }

    protected void TrainEpochs(int startEpoch, int maxEpoch)
    {
        (StartEpoch, EpochsDone, MaxEpoch) = (startEpoch, startEpoch, maxEpoch);
        foreach (var h in _hooks) h.BeforeTrain();
        for (Epoch = startEpoch; Epoch < maxEpoch; Epoch++)
        {
            for (IterInEpoch = 1; IterInEpoch <= ItersPerEpoch; IterInEpoch++)
            {
                foreach (var h in _hooks) h.BeforeStep();
                LastLosses = RunStep();
                Iteration++;
                foreach (var h in _hooks) h.AfterStep();
            }
            EpochsDone = Epoch + 1;
            foreach (var h in _hooks) h.AfterEpoch();
            StopReason = AgreeOnStop(StopReason);
            if (StopReason is not null) break;
        }
        if (Epoch == maxEpoch) Epoch = maxEpoch - 1; // AfterTrain hooks see the last epoch run, as AfterEpoch did
        foreach (var h in _hooks) h.AfterTrain();
    }
}
