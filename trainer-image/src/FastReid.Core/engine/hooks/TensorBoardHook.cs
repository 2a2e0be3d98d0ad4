using FastReid.Evaluation;

namespace FastReid.Engine.Hooks;

/// <summary>
/// Writes the run's scalars to <c>OUTPUT_DIR/events.out.tfevents.TIME.HOST</c> for TensorBoard (and for
/// <c>fastreid report</c>): each loss term, <c>total_loss</c>, <c>lr</c> and <c>images_per_second</c> every
/// <see cref="Period"/> steps and at the end of each epoch; <c>eval/mAP</c>, <c>eval/rank1</c>, ... and
/// <c>eval/epoch</c> after each evaluation. Steps are the run's global iteration, so a resumed run continues
/// the curves (in a file of its own, as TensorBoard expects). Every record is flushed as written: a run killed
/// mid-way, or published to s3:// after a checkpoint, leaves whole records. Registered on rank 0 only, after
/// <paramref name="progress"/> (whose throughput it records).
/// </summary>
public sealed class TensorBoardHook(RunContext run, TrainStep step, ProgressHook progress) : HookBase
{
    /// <summary>Steps between training scalars (detectron2's writer period).</summary>
    public const int Period = 20;

    private FileStream? _file;

    public override void BeforeTrain()
    {
        var now = DateTimeOffset.UtcNow;
        var path = Path.Combine(run.OutputDir, TensorBoardEvents.FileName(now, Environment.MachineName));
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (_file.Length == 0) TensorBoardEvents.WriteFileVersion(_file, now.ToUnixTimeMilliseconds() / 1000.0);
        _file.Flush();
    }

    public override void AfterStep()
    {
        var t = Trainer;
        if (t.Iteration % Period != 0 && t.IterInEpoch != t.ItersPerEpoch) return;
        var scalars = t.LastLosses.Select(kv => (kv.Key, kv.Value))
            .Append(("total_loss", t.LastLosses.Values.Sum()))
            .Append(("lr", step.LearningRate))
            .Append(("images_per_second", progress.ImagesPerSecond));
        Write(scalars);
    }

    public override void AfterEvaluation(int epoch, ReidMetrics metrics)
    {
        var scalars = new List<(string, double)>
        {
            ("eval/epoch", epoch), ("eval/mAP", metrics.MAP), ("eval/rank1", metrics.Rank1), ("eval/rank5", metrics.Rank5),
            ("eval/rank10", metrics.Rank10), ("eval/mINP", metrics.MINP),
        };
        foreach (var (fpr, tpr) in metrics.TprAtFpr ?? new Dictionary<string, double>()) scalars.Add(($"eval/tpr@fpr={fpr}", tpr));
        Write(scalars);
    }

    public override void AfterTrain()
    {
        _file?.Dispose();
        _file = null;
    }

    private void Write(IEnumerable<(string Tag, double Value)> scalars)
    {
        if (_file is null) return;
        double wall = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        foreach (var (tag, value) in scalars) TensorBoardEvents.WriteScalar(_file, new ScalarEvent(tag, Trainer.Iteration, wall, (float)value));
        _file.Flush();
    }
}
