using Prometheus;

namespace FastReid.Engine;

/// <summary>Training gauges (loss and each loss term, lr, images/s, epoch, last mAP) served for Prometheus when a port is given.</summary>
public sealed class TrainingMetrics : IDisposable
{
    private readonly MetricServer? _server;
    private readonly Gauge? _loss, _lossTerm, _lr, _speed, _epoch, _map;

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
        _map = f.CreateGauge("fastreid_eval_map", "mAP of the last evaluation, a fraction in [0, 1].");
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

    public void Evaluated(double map) => _map?.Set(map);

    public void Dispose() => _server?.Dispose();
}
