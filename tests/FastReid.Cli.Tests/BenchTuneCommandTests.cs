using System.Text.Json;

namespace FastReid.Cli.Tests;

/// <summary>The code path of <c>fastreid bench tune</c> on a small cap; what it measures is bench/results/tune.json's.</summary>
public sealed class BenchTuneCommandTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("cli-bench-tune-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    [Fact]
    public void Reports_each_algorithm_per_function_next_to_random_search()
    {
        var outFile = Path.Combine(_out, "tune.json");
        var (code, stdout, stderr) = CliRunner.Run(null, ["bench", "tune", "--seeds", "2", "--cap", "10", "--algorithms", "asha,dehb,tpe", "--out", outFile]);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("hartmann6 asha: 1 % regret after", stdout);

        using var json = JsonDocument.Parse(File.ReadAllText(outFile));
        var functions = json.RootElement.GetProperty("functions");
        Assert.Equal(["branin", "hartmann6"], functions.EnumerateObject().Select(p => p.Name));
        var branin = functions.GetProperty("branin");
        Assert.Equal(["random", "asha", "dehb", "tpe"], branin.GetProperty("algorithms").EnumerateObject().Select(p => p.Name));
        var asha = branin.GetProperty("algorithms").GetProperty("asha");
        Assert.Equal(2, asha.GetProperty("budget_to_1pct").GetArrayLength());
        Assert.InRange(asha.GetProperty("median_regret_at_budget").GetProperty("270").GetDouble(), 0, 1);
        Assert.Equal(["asha", "dehb", "tpe"], branin.GetProperty("vs_random").EnumerateObject().Select(p => p.Name));
        Assert.Equal("budget_to_1pct_ratio <= 1/3", branin.GetProperty("vs_random").GetProperty("dehb").GetProperty("goal").GetString());
    }

    [Fact]
    public void An_unknown_algorithm_is_a_usage_error_naming_the_known_ones()
    {
        var (code, stdout, stderr) = CliRunner.Run(null, ["bench", "tune", "--algorithms", "bohbb", "--out", Path.Combine(_out, "x.json")]);
        Assert.NotEqual(0, code);
        Assert.Contains("'bohbb' is not one of random, tpe, hyperband, bohb, asha, dehb, median", stderr + stdout);
    }
}
