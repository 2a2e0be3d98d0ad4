using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

/// <summary>Seeded random query/gallery sets: identities as noisy clusters (or pure noise), several cameras, distractors.</summary>
internal static class RandomCases
{
    public static (FeatureSet Query, FeatureSet Gallery) Make(int seed, int queries, int galleryCount, int dim,
        int identities = 15, double noise = 0.9, int cameras = 4)
    {
        var random = new Random(seed);
        var centers = Enumerable.Range(0, identities + 5).Select(_ => Gaussian(random, dim, 1.0)).ToArray();
        FeatureSet Sample(int count, int pidRange)
        {
            var features = new float[count * dim];
            var pids = new long[count];
            var cams = new long[count];
            for (int i = 0; i < count; i++)
            {
                int pid = random.Next(pidRange);
                pids[i] = pid;
                cams[i] = random.Next(cameras);
                var x = Gaussian(random, dim, noise);
                double scale = 0.5 + random.NextDouble(); // unnormalised, as the trainer passes them
                for (int d = 0; d < dim; d++) features[i * dim + d] = (float)((centers[pid][d] + x[d]) * scale);
            }
            return new FeatureSet(features, count, dim, pids, cams);
        }
        // The gallery also holds 5 identities no query has (distractors).
        return (Sample(queries, identities), Sample(galleryCount, identities + 5));
    }

    private static double[] Gaussian(Random random, int dim, double sigma) =>
        Enumerable.Range(0, dim).Select(_ =>
            sigma * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())).ToArray();
}
