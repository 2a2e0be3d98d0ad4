namespace FastReid.Engine.Hooks;

/// <summary>
/// FastReID's <c>EvalHook</c>: evaluates every <c>TEST.EVAL_PERIOD</c> epochs and after the final one, and
/// reports the metrics to every hook (<see cref="HookBase.AfterEvaluation"/>). A run stopped early is
/// evaluated at the epoch it stopped in, so its final metrics describe its final weights.
/// </summary>
/// <param name="evaluate">Evaluates the test sets after the given number of epochs; null when there is nothing to evaluate.</param>
public sealed class EvalHook(int period, Func<int, Evaluation.ReidMetrics?> evaluate) : HookBase
{
    private int _evaluatedEpoch = -1;

    public override void AfterEpoch()
    {
        if (Trainer.IsFinalEpoch || period > 0 && Trainer.EpochsDone % period == 0) Evaluate();
    }

    public override void AfterTrain()
    {
        if (Trainer.EpochsDone > Trainer.StartEpoch && _evaluatedEpoch != Trainer.EpochsDone) Evaluate();
    }

    private void Evaluate()
    {
        _evaluatedEpoch = Trainer.EpochsDone;
        if (evaluate(Trainer.EpochsDone) is { } metrics) Trainer.ReportEvaluation(Trainer.EpochsDone, metrics);
    }
}
