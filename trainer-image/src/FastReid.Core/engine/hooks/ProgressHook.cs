using System.Diagnostics;
using FastReid.Evaluation;

namespace FastReid.Engine.Hooks;

/// <summary>
/// The step's progress line (or live bar) and the Prometheus gauges: loss, rate, throughput and epoch after
/// each step (with where the run is: iteration of total, ETA), the last evaluation after each one. Throughput is averaged over this run's steps.
/// </summary>
public sealed class ProgressHook(RunContext run, TrainStep step, int batchSize) : HookBase
{
    private Stopwatch _watch = new();
    private long _firstIteration;

    /// <summary>Training throughput averaged over this run's steps so far (other hooks registered after this one read it).</summary>
    public double ImagesPerSecond { get; private set; }

    public override void BeforeTrain()
    {
        _firstIteration = Trainer.Iteration;
        _watch = Stopwatch.StartNew();
    }

    public override void AfterStep()
    {
        var t = Trainer;
        double perIter = _watch.Elapsed.TotalSeconds / (t.Iteration - _firstIteration);
        long total = (long)t.MaxEpoch * t.ItersPerEpoch;
        var eta = TimeSpan.FromSeconds(perIter * (total - t.Iteration));
        ImagesPerSecond = batchSize / perIter;
        run.Progress.Iteration(t.Epoch + 1, t.MaxEpoch, t.IterInEpoch, t.ItersPerEpoch, t.LastLosses, step.LearningRate, ImagesPerSecond, eta);
        run.Metrics.Iteration(t.LastLosses, step.LearningRate, ImagesPerSecond, t.Epoch + 1);
        run.Metrics.Position(t.MaxEpoch, t.Iteration, total, eta);
    }

    public override void AfterEvaluation(int epoch, ReidMetrics metrics) => run.Metrics.Evaluated(epoch, metrics);
}
