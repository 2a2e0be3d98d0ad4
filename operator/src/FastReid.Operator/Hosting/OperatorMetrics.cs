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

    /// <summary>Sets the per-phase gauge from a snapshot of phases (every known phase is written, absent ones as 0).</summary>
    public void SetPhases(string kind, IEnumerable<string?> phases)
    {
        var counts = phases.GroupBy(p => p ?? "Unknown").ToDictionary(g => g.Key, g => g.Count());
        foreach (var phase in new[] { "Pending", "Running", "Succeeded", "Failed", "Unknown" }.Union(counts.Keys))
            ResourcesByPhase.WithLabels(kind, phase).Set(counts.GetValueOrDefault(phase));
    }

    public async Task<string> ExportAsync(CancellationToken ct = default)
    {
        using var stream = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(stream, ct).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
