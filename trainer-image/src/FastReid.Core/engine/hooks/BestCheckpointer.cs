using FastReid.Evaluation;

namespace FastReid.Engine.Hooks;

/// <summary>
/// Keeps the best evaluation by FastReID's score (mAP + R1) / 2 and writes its weights to
/// <c>model_best.pth</c> (the saved module only) whenever the score improves.
/// </summary>
public sealed class BestCheckpointer(Action<string> saveWeights) : HookBase
{
    public static double Score(ReidMetrics m) => (m.MAP + m.Rank1) / 2;

    public override void AfterEvaluation(int epoch, ReidMetrics metrics)
    {
        double score = Score(metrics);
        if (!(score > Trainer.BestScore)) return;
        (Trainer.BestScore, Trainer.Best, Trainer.BestEpoch) = (score, metrics, epoch);
        saveWeights("model_best.pth");
    }
}
