using FastReid.Evaluation;

namespace FastReid.Core.Tests.Evaluation;

/// <summary>
/// The symmetric k-nearest search (each pair formed once, offered to its row and to its column) against a
/// brute-force float64 search with the same (value, lower index) order, in blocks as small as one row.
/// </summary>
public class NeighbourSearchTests
{
    [Theory]
    [InlineData(false, 1L << 10)]   // one row per block: every pair below the diagonal comes from a column offer
    [InlineData(false, 1L << 16)]
    [InlineData(true, 1L << 10)]
    [InlineData(true, 512L << 20)]  // one block
    public void Symmetric_search_finds_the_brute_force_neighbours_with_ties_by_index(bool largest, long budget)
    {
        // Small integers: every product is exact in float32, so ties are exact and the index decides them.
        const int count = 90, dim = 4, k = 7;
        var random = new Random(71);
        var rows = Enumerable.Range(0, count * dim).Select(_ => (float)(random.Next(5) - 2)).ToArray();
        foreach (var products in new[] { RowProducts.Torch, RowProducts.Default })
        {
            var (index, value) = largest
                ? NearestNeighbours.ByInnerProduct(rows, count, dim, k, products, budget)
                : NearestNeighbours.BySquaredL2(rows, count, dim, k, products, budget);
            for (int i = 0; i < count; i++)
            {
                double Measure(int j)
                {
                    double dot = 0, sq = 0;
                    for (int d = 0; d < dim; d++)
                    {
                        dot += rows[i * dim + d] * rows[j * dim + d];
                        sq += Math.Pow(rows[i * dim + d] - rows[j * dim + d], 2);
                    }
                    return largest ? -dot : sq;
                }
                var expected = Enumerable.Range(0, count).OrderBy(Measure).ThenBy(j => j).Take(k).ToArray();
                Assert.Equal(expected, index.AsSpan(i * k, k).ToArray());
                Assert.Equal(expected.Select(j => largest ? -Measure(j) : Measure(j)), value.AsSpan(i * k, k).ToArray().Select(v => (double)v));
            }
        }
    }

    [Fact]
    public void Fewer_rows_than_k_returns_every_row()
    {
        var rows = new float[] { 0, 3, 1 };
        var (index, distance) = NearestNeighbours.BySquaredL2(rows, 3, 1, 20, RowProducts.Default, 1 << 10);
        Assert.Equal([0, 2, 1, 1, 2, 0, 2, 0, 1], index);
        Assert.Equal([0f, 1, 9, 0, 4, 9, 0, 1, 4], distance);
    }
}
