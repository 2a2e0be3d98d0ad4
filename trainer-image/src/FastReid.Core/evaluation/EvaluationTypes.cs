namespace FastReid.Evaluation;

/// <summary>
/// Embeddings of one evaluation split: <paramref name="Features"/> is row-major [Count, Dim];
/// <paramref name="Pids"/> and <paramref name="CamIds"/> have Count entries. Features are passed
/// unnormalised (the trainer averages an image and its mirror itself); the evaluator normalises once
/// when the metric is cosine.
/// </summary>
public sealed record FeatureSet(float[] Features, int Count, int Dim, long[] Pids, long[] CamIds);

/// <summary>
/// FastReID's TEST.* evaluation settings: METRIC, RERANK.{K1,K2,LAMBDA}, AQE.{QE_TIME,QE_K,ALPHA},
/// ROC.ENABLED. <paramref name="MemoryBudgetBytes"/> bounds the working set of the distance blocks,
/// from which the number of query rows per block is derived.
/// </summary>
public sealed record EvaluationOptions(
    string Metric = "cosine",
    bool Rerank = false, int K1 = 20, int K2 = 6, double Lambda = 0.3,
    bool Aqe = false, int QeTimes = 1, int QeK = 5, double Alpha = 3.0,
    bool Roc = false,
    long MemoryBudgetBytes = 512L << 20);

/// <summary>
/// FastReID's retrieval metrics as fractions in [0, 1]. <paramref name="TprAtFpr"/> is set when ROC is
/// requested, keyed "1e-04", "1e-03", "1e-02".
/// </summary>
public sealed record ReidMetrics(double MAP, double Rank1, double Rank5, double Rank10, double MINP,
    IReadOnlyDictionary<string, double>? TprAtFpr);
