using FastReid.Evaluation;
using Prometheus;

namespace FastReid.Engine;

/// <summary>
/// Training gauges served for Prometheus when a port is given: loss and each loss term, lr, images/s, where the
/// run is (epoch, iteration, their totals, the estimated seconds left) and the last evaluation (epoch, mAP,
/// rank-1). The operator reads these from rank 0 into <c>status.progress</c> (FastReid.Pipeline's TrainerProgress).
/// </summary>
public sealed class TrainingMetrics : IDisposable
{
    private readonly MetricServer? _server;
    private readonly Gauge? _loss, _lossTerm, _lr, _speed, _epoch, _maxEpoch, _iteration, _maxIteration, _eta, _map, _rank1, _evalEpoch;

    private TrainingMetrics(MetricServer? server, CollectorRegistry? registry)
    {
        _server = server;
        if (registry is null) return;
        var f = Prometheus.Metrics.WithCustomRegistry(registry);
        _loss = f.CreateGauge("fastreid_train_loss", "Total training loss of the last iteration.");
        _lossTerm = f.CreateGauge("fastreid_train_loss_term", "Each weighted loss term of the last iteration (loss_cls, loss_triplet, loss_kd, loss_overhaul, ...).", "term");
        _lr = f.CreateGauge("fastreid_train_learning_rate", "Base learning rate of the last iteration.");
        _speed = f.CreateGauge("fastreid_train_images_per_second", "Training throughput averaged over the run.");
        _epoch = f.CreateGauge("fastreid_train_epoch", "Current epoch (1-based).");
        _maxEpoch = f.CreateGauge("fastreid_train_max_epoch", "Epochs the run trains (SOLVER.MAX_EPOCH).");
        _iteration = f.CreateGauge("fastreid_train_iteration", "Iterations done since the run started (resumed iterations included).");
        _maxIteration = f.CreateGauge("fastreid_train_max_iteration", "Iterations the whole run takes (max epoch x iterations per epoch).");
        _eta = f.CreateGauge("fastreid_train_eta_seconds", "Estimated seconds of training left, at this run's average speed.");
        _map = f.CreateGauge("fastreid_eval_map", "mAP of the last evaluation, a fraction in [0, 1].");
        _rank1 = f.CreateGauge("fastreid_eval_rank1", "Rank-1 accuracy of the last evaluation, a fraction in [0, 1].");
        _evalEpoch = f.CreateGauge("fastreid_eval_epoch", "Epoch (1-based) after which the last evaluation ran.");
    }

    public static TrainingMetrics Disabled() => new(null, null);

    public static TrainingMetrics Serve(int port, ProgressReporter progress)
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var server = new MetricServer(port: port, registry: registry);
        try { server.Start(); }
        catch (Exception e)
        {
            throw new FastReidException($"cannot serve metrics on port {port}: {e.Message}", e);
        }
        progress.Line($"Prometheus metrics on http://localhost:{port}/metrics");
        return new TrainingMetrics(server, registry);
    }

    public void Iteration(IReadOnlyDictionary<string, double> losses, double lr, double imagesPerSecond, int epoch)
    {
        _loss?.Set(losses.Values.Sum());
        foreach (var (term, value) in losses) _lossTerm?.WithLabels(term).Set(value);
        _lr?.Set(lr);
        _speed?.Set(imagesPerSecond);
        _epoch?.Set(epoch);
    }

    /// <summary>Where the run is: epoch of max epoch, iteration of the run's iterations, and the time left.</summary>
    public void Position(int maxEpoch, long iteration, long maxIteration, TimeSpan eta)
    {
        _maxEpoch?.Set(maxEpoch);
        _iteration?.Set(iteration);
        _maxIteration?.Set(maxIteration);
        _eta?.Set(Math.Max(0, eta.TotalSeconds));
    }

    /// <summary>The last evaluation, after the given (1-based) epoch.</summary>
    public void Evaluated(int epoch, ReidMetrics metrics)
    {
        _evalEpoch?.Set(epoch);
        _map?.Set(metrics.MAP);
        _rank1?.Set(metrics.Rank1);
    }

    public void Dispose() => _server?.Dispose();
}
