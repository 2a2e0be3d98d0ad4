using Prometheus;

namespace FastReid.Operator.Hosting;

/// <summary>The operator's Prometheus metrics, on a registry of its own (no process-wide state).</summary>
public sealed class OperatorMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    public Counter Reconciles { get; }
    public Histogram ReconcileDuration { get; }
    public Gauge QueueDepth { get; }
    public Counter WatchRestarts { get; }
    public Gauge ResourcesByPhase { get; }
    public Gauge Leader { get; }

    public OperatorMetrics()
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        Reconciles = factory.CreateCounter("fastreid_operator_reconciles_total", "Reconciles by kind and result (success, requeue, conflict, error).",
            new CounterConfiguration { LabelNames = ["kind", "result"] });
        ReconcileDuration = factory.CreateHistogram("fastreid_operator_reconcile_duration_seconds", "Time one reconcile takes.",
            new HistogramConfiguration { LabelNames = ["kind"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        QueueDepth = factory.CreateGauge("fastreid_operator_workqueue_depth", "Keys waiting in the work queue.",
            new GaugeConfiguration { LabelNames = ["kind"] });
        WatchRestarts = factory.CreateCounter("fastreid_operator_watch_restarts_total", "Watches restarted, by kind and reason (expired, watch-error, list-error).",
            new CounterConfiguration { LabelNames = ["kind", "reason"] });
        ResourcesByPhase = factory.CreateGauge("fastreid_operator_resources", "Custom resources by kind and status.phase.",
            new GaugeConfiguration { LabelNames = ["kind", "phase"] });
        Leader = factory.CreateGauge("fastreid_operator_leader", "1 while this replica holds the leader Lease.");
    }

    private readonly Dictionary<(string Kind, string Phase), int> _phases = [];

    /// <summary>
    /// Moves one resource of <paramref name="kind"/> from phase <paramref name="old"/> to <paramref name="now"/> in the
    /// per-phase gauge (null: it did not exist, or no longer does). Counting the change instead of recounting every
    /// cached resource keeps a burst of N creations at O(N), not O(N²).
    /// </summary>
    public void MovePhase(string kind, string? old, bool existed, string? now, bool exists)
    {
        lock (_phases)
        {
            if (existed) Count(kind, old ?? "Unknown", -1);
            if (exists) Count(kind, now ?? "Unknown", +1);
            foreach (var phase in new[] { "Pending", "Running", "Succeeded", "Failed", "Unknown" })
                ResourcesByPhase.WithLabels(kind, phase).Set(_phases.GetValueOrDefault((kind, phase)));
        }
    }

    private void Count(string kind, string phase, int delta)
    {
        var count = _phases.GetValueOrDefault((kind, phase)) + delta;
        _phases[(kind, phase)] = count;
        ResourcesByPhase.WithLabels(kind, phase).Set(count);
    }

    public async Task<string> ExportAsync(CancellationToken ct = default)
    {
        using var stream = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(stream, ct).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
