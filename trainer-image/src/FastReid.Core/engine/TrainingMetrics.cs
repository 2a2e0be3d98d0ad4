using Prometheus;

namespace FastReid.Engine;

/// <summary>Training gauges (loss, lr, images/s, epoch, last mAP) served for Prometheus when a port is given.</summary>
public sealed class TrainingMetrics : IDisposable
{
    private readonly MetricServer? _server;
    private readonly Gauge? _loss, _lr, _speed, _epoch, _map;

    private TrainingMetrics(MetricServer? server, CollectorRegistry? registry)
    {
        _server = server;
        if (registry is null) return;
        var f = Prometheus.Metrics.WithCustomRegistry(registry);
        _loss = f.CreateGauge("fastreid_train_loss", "Total training loss of the last iteration.");
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

    public void Iteration(double loss, double lr, double imagesPerSecond, int epoch)
    {
        _loss?.Set(loss);
        _lr?.Set(lr);
        _speed?.Set(imagesPerSecond);
        _epoch?.Set(epoch);
    }

    public void Evaluated(double map) => _map?.Set(map);

    public void Dispose() => _server?.Dispose();
}
