using System.Diagnostics;
using FastReid.Data;
using FastReid.Evaluation;

namespace FastReid.Engine;

/// <summary>One test set's evaluation: the embeddings it was computed from, its metrics and how long it took.</summary>
public sealed record TestSetResult(ReidDataset Test, FeatureSet Query, FeatureSet Gallery, ReidMetrics Metrics, TimeSpan Elapsed);

/// <summary>
/// FastReID's <c>inference_on_dataset</c> over <c>DATASETS.TESTS</c>: embeds each test set's query and gallery
/// and evaluates them. The trainer's evaluation hook and <c>fastreid evaluate --config</c> both run this;
/// each says what it prints through <paramref name="report"/>, called once per set as soon as it is done.
/// </summary>
public static class TestSetEvaluation
{
    /// <summary>Evaluates every test set in order; returns their metrics (the first is the one "best" is chosen by).</summary>
    public static IReadOnlyList<ReidMetrics> Run(FeatureExtractor extractor, IReadOnlyList<ReidDataset> tests, EvaluationOptions options,
        Action<TestSetResult> report, Func<string, Action<int, int>?>? embeddingProgress = null)
    {
        var metrics = new List<ReidMetrics>(tests.Count);
        foreach (var test in tests)
        {
            var watch = Stopwatch.StartNew();
            var query = extractor.Extract(test.Query, embeddingProgress?.Invoke($"{test.Name} query"));
            var gallery = extractor.Extract(test.Gallery, embeddingProgress?.Invoke($"{test.Name} gallery"));
            var m = ReidEvaluator.Evaluate(query, gallery, options);
            metrics.Add(m);
            report(new TestSetResult(test, query, gallery, m, watch.Elapsed));
        }
        return metrics;
    }
}
