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
/// <para>
/// Data-parallel (a <c>group</c> of several ranks): each rank embeds a contiguous shard of the query and the
/// gallery, the shards are all-gathered in order, and every rank evaluates the whole set. So the embedding,
/// which is the bulk of an evaluation, is split over the ranks' devices; the ranking, deterministic, gives
/// every rank the same metrics (its hooks then decide alike), and no rank sits idle waiting for rank 0
/// longer than the ranking takes.
/// </para>
/// </summary>
public static class TestSetEvaluation
{
    /// <summary>Evaluates every test set in order; returns their metrics (the first is the one "best" is chosen by).</summary>
    public static IReadOnlyList<ReidMetrics> Run(FeatureExtractor extractor, IReadOnlyList<ReidDataset> tests, EvaluationOptions options,
        Action<TestSetResult> report, Func<string, Action<int, int>?>? embeddingProgress = null, Distributed.ICollectives? group = null)
    {
        var metrics = new List<ReidMetrics>(tests.Count);
        foreach (var test in tests)
        {
            var watch = Stopwatch.StartNew();
            var query = Embed(extractor, test.Query, embeddingProgress?.Invoke($"{test.Name} query"), group);
            var gallery = Embed(extractor, test.Gallery, embeddingProgress?.Invoke($"{test.Name} gallery"), group);
            var m = ReidEvaluator.Evaluate(query, gallery, options);
            metrics.Add(m);
            report(new TestSetResult(test, query, gallery, m, watch.Elapsed));
        }
        return metrics;
    }

    private static FeatureSet Embed(FeatureExtractor extractor, IReadOnlyList<ImageRecord> records, Action<int, int>? progress, Distributed.ICollectives? group)
    {
        if (group is null || group.WorldSize == 1) return extractor.Extract(records, progress);
        int w = group.WorldSize, r = group.Rank;
        int start = (int)((long)records.Count * r / w), end = (int)((long)records.Count * (r + 1) / w);
        var shard = extractor.Extract(records.Skip(start).Take(end - start).ToList(), progress);
        // an empty shard cannot tell its width; every rank's width is the model's, so take the widest
        var dims = group.AllGatherBytes(BitConverter.GetBytes(shard.Dim)).Select(b => BitConverter.ToInt32(b)).ToArray();
        int dim = dims.Max();
        using var local = TorchSharp.torch.tensor(shard.Features, [shard.Count, dim]).to(Distributed.DistributedState.WireDevice(group));
        using var all = group.AllGather(local).cpu();
        return new FeatureSet(all.data<float>().ToArray(), records.Count, dim,
            records.Select(x => (long)x.Pid).ToArray(), records.Select(x => (long)x.CamId).ToArray());
    }
}
