namespace FastReid.Data.Samplers;

/// <summary>
/// Endless streams of training-set indices, global batch by global batch, as FastReID's samplers yield
/// them. Data-parallel ranks each take their contiguous slice of every global batch
/// (<see cref="RankSlice"/>), so identities stay together within a rank.
/// </summary>
public static class IdentitySamplers
{
    /// <summary>
    /// FastReID's NaiveIdentitySampler: each round picks P = batch / K identities at random from those
    /// with K unused images left, takes K of each (identities with fewer than K images are sampled with
    /// replacement), until fewer than P identities remain; then a new round starts.
    /// </summary>
    public static IEnumerable<int[]> NaiveIdentity(IReadOnlyList<int> labels, int batchSize, int numInstances, int seed)
    {
        if (numInstances < 1 || batchSize % numInstances != 0)
            throw new FastReidException($"SOLVER.IMS_PER_BATCH ({batchSize}) must be a multiple of DATALOADER.NUM_INSTANCE ({numInstances})");
        int p = batchSize / numInstances;
        var byPid = labels.Select((label, index) => (label, index)).GroupBy(t => t.label)
            .OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Select(t => t.index).ToArray());
        if (byPid.Count < p)
            throw new FastReidException($"the training set has {byPid.Count} identities, fewer than the {p} a batch needs (SOLVER.IMS_PER_BATCH / DATALOADER.NUM_INSTANCE)");
        var rng = new Random(seed);
        while (true)
        {
            var available = byPid.Keys.ToList();
            var pools = new Dictionary<int, Queue<int>>();
            var batch = new List<int>(batchSize);
            while (available.Count >= p)
            {
                var chosen = available.OrderBy(_ => rng.Next()).Take(p).ToArray();
                foreach (var pid in chosen)
                {
                    if (!pools.TryGetValue(pid, out var pool))
                    {
                        var idxs = byPid[pid];
                        var list = idxs.Length < numInstances
                            ? Enumerable.Range(0, numInstances).Select(_ => idxs[rng.Next(idxs.Length)]).ToList()
                            : idxs.ToList();
                        Shuffle(list, rng);
                        pools[pid] = pool = new Queue<int>(list);
                    }
                    for (int k = 0; k < numInstances; k++) batch.Add(pool.Dequeue());
                    if (pool.Count < numInstances) available.Remove(pid);
                }
                yield return batch.ToArray();
                batch.Clear();
            }
        }
    }

    /// <summary>FastReID's TrainingSampler: endless random permutations, cut into batches.</summary>
    public static IEnumerable<int[]> Shuffled(int count, int batchSize, int seed)
    {
        if (count < batchSize) throw new FastReidException($"the training set has {count} images, fewer than SOLVER.IMS_PER_BATCH ({batchSize})");
        var rng = new Random(seed);
        var batch = new List<int>(batchSize);
        while (true)
        {
            var perm = Enumerable.Range(0, count).ToList();
            Shuffle(perm, rng);
            foreach (var i in perm)
            {
                batch.Add(i);
                if (batch.Count == batchSize) { yield return batch.ToArray(); batch.Clear(); }
            }
        }
    }

    public static int[] RankSlice(int[] globalBatch, int rank, int worldSize)
    {
        if (globalBatch.Length % worldSize != 0)
            throw new FastReidException($"SOLVER.IMS_PER_BATCH ({globalBatch.Length}) must be divisible by the world size ({worldSize})");
        int per = globalBatch.Length / worldSize;
        return globalBatch.AsSpan(rank * per, per).ToArray();
    }

    internal static void Shuffle<T>(IList<T> list, Random rng)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
