using System.Globalization;
using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline.Progress;

/// <summary>
/// The trainer's <c>--metrics-port</c> page (Prometheus text exposition format, version 0.0.4) read as a
/// <see cref="TrainingProgress"/>: the <c>fastreid_train_*</c> and <c>fastreid_eval_*</c> gauges of rank 0.
/// Pure: the operator and the local pipeline runner each fetch the page their own way and call this.
/// </summary>
public static class TrainerProgress
{
    public const string Epoch = "fastreid_train_epoch";
    public const string MaxEpoch = "fastreid_train_max_epoch";
    public const string Iteration = "fastreid_train_iteration";
    public const string MaxIteration = "fastreid_train_max_iteration";
    public const string Eta = "fastreid_train_eta_seconds";
    public const string ImagesPerSecond = "fastreid_train_images_per_second";
    public const string Loss = "fastreid_train_loss";
    public const string LearningRate = "fastreid_train_learning_rate";
    public const string EvalEpoch = "fastreid_eval_epoch";
    public const string EvalMap = "fastreid_eval_map";
    public const string EvalRank1 = "fastreid_eval_rank1";

    /// <summary>
    /// The progress the page shows at <paramref name="observedAt"/>; null, with <paramref name="error"/> saying why,
    /// when it holds no training position (not the trainer's page, or no iteration finished yet).
    /// </summary>
    public static TrainingProgress? Parse(string text, DateTimeOffset observedAt, out string? error)
    {
        var samples = Samples(text);
        if (!samples.TryGetValue(MaxIteration, out var total) || !samples.TryGetValue(Iteration, out var done))
        {
            error = $"the page has no {Iteration} and {MaxIteration} gauges (is it a fastreid trainer's --metrics-port?)";
            return null;
        }
        if (!(total > 0 && done > 0))
        {
            error = "the trainer has not finished an iteration yet";
            return null;
        }
        error = null;
        double percent = Math.Round(Math.Clamp(100 * done / total, 0, 100), 1);
        int? epoch = Whole(samples, Epoch), maxEpoch = Whole(samples, MaxEpoch);
        ProgressEvaluation? evaluation = Whole(samples, EvalEpoch) is > 0 and var evalEpoch
            ? new ProgressEvaluation { Epoch = evalEpoch, MAP = Finite(samples, EvalMap), Rank1 = Finite(samples, EvalRank1) }
            : null;
        return new TrainingProgress
        {
            Summary = Summary(percent, epoch, maxEpoch),
            Epoch = epoch,
            MaxEpoch = maxEpoch,
            Iteration = (long)done,
            MaxIteration = (long)total,
            Percent = percent,
            EtaSeconds = Finite(samples, Eta) is { } eta ? (long)Math.Round(Math.Max(0, eta)) : null,
            ImagesPerSecond = Finite(samples, ImagesPerSecond) is { } speed ? Math.Round(speed, 1) : null,
            Loss = Finite(samples, Loss),
            LearningRate = Finite(samples, LearningRate),
            LastEvaluation = evaluation,
            ObservedAt = observedAt,
        };
    }

    /// <summary>
    /// The progress of a run that finished: every iteration and epoch done, no time left; the speed, loss and last
    /// evaluation are the last reading's (the run's metrics are in status.metrics).
    /// </summary>
    public static TrainingProgress Completed(TrainingProgress last) => new()
    {
        Summary = Summary(100, last.MaxEpoch ?? last.Epoch, last.MaxEpoch),
        Epoch = last.MaxEpoch ?? last.Epoch,
        MaxEpoch = last.MaxEpoch,
        Iteration = last.MaxIteration ?? last.Iteration,
        MaxIteration = last.MaxIteration,
        Percent = 100,
        EtaSeconds = 0,
        ImagesPerSecond = last.ImagesPerSecond,
        Loss = last.Loss,
        LearningRate = last.LearningRate,
        LastEvaluation = last.LastEvaluation,
        ObservedAt = last.ObservedAt,
    };

    /// <summary>The printer column's text: "37% e3/10" (the epoch part only when the page has it).</summary>
    public static string Summary(double percent, int? epoch, int? maxEpoch) =>
        string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(percent):0}%") + (epoch is { } e && maxEpoch is { } m ? string.Create(CultureInfo.InvariantCulture, $" e{e}/{m}") : "");

    /// <summary>
    /// The unlabelled samples of a Prometheus text page by metric name (comments, labelled series and lines that do
    /// not parse are skipped; a repeated name keeps its last value). Values may be NaN or ±Inf.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Samples(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#' || line.Contains('{', StringComparison.Ordinal)) continue;
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length is < 2 or > 3 || ParseValue(parts[1]) is not { } value) continue;
            samples[parts[0]] = value;
        }
        return samples;
    }

    private static double? ParseValue(string text) => text switch
    {
        "NaN" => double.NaN,
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null,
    };

    private static double? Finite(IReadOnlyDictionary<string, double> samples, string name) =>
        samples.TryGetValue(name, out var v) && double.IsFinite(v) ? v : null;

    private static int? Whole(IReadOnlyDictionary<string, double> samples, string name) =>
        Finite(samples, name) is { } v && v is >= 0 and <= int.MaxValue ? (int)Math.Round(v) : null;
}

/// <summary>
/// What reading a trainer's metrics page gave, handed to the planner as an observed child: the page's text, or
/// why it could not be read (refused, timed out, not HTTP 200), and when.
/// </summary>
public sealed record MetricsScrape(Uri Target, string? Page, string? Error, DateTimeOffset At);
