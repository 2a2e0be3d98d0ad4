namespace FastReid.Cli.Tests;

/// <summary>
/// <c>embed</c>, <c>evaluate</c>, <c>export</c> and <c>bench export</c> with a config that does not describe the trained
/// weights (the tiny quarter-width ResNet-18 model, read as another depth, width or head): an error naming the
/// tensors and writing nothing, unless <c>--allow-partial-weights</c> says it is meant.
/// </summary>
public sealed class PartialWeightsTests(TrainedTinyModel model) : IClassFixture<TrainedTinyModel>, IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("cli-partial-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    /// <summary>The command with the trained config and weights; <c>Output</c> is what it would write.</summary>
    private (string[] Args, string Output) Command(string command, params string[] more)
    {
        var output = Path.Combine(_tmp, command.Replace(' ', '-') + (command == "export" ? "" : command == "embed" ? ".npz" : ".json"));
        string[] head = command switch
        {
            "embed" => ["embed", "--config", model.Config, "--images", Path.Combine(model.Data.Market, "query"), "--out", output],
            "evaluate" => ["evaluate", "--config", model.Config, "--json"],
            "export" => ["export", "--config", model.Config, "--output", output],
            "bench export" => ["bench", "export", "--config", model.Config, "--batches", "1", "--reps", "1", "--warmup", "1", "--threads", "1", "--out", output],
            _ => throw new ArgumentException(command),
        };
        return ([.. head, .. more, "MODEL.WEIGHTS", model.Weights], output);
    }

    private static void AssertOneLineError(string command, int code, string stderr, string expected)
    {
        Assert.True(code == 1, $"exit {code}\n{stderr}");
        var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith($"fastreid {command}: error: ", StringComparison.Ordinal));
        Assert.True(error.Contains(expected, StringComparison.Ordinal), error);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
    }

    [Theory]
    [InlineData("embed")]
    [InlineData("evaluate")]
    [InlineData("export")]
    [InlineData("bench export")]
    public void Weights_of_another_depth_are_an_error_naming_the_missing_tensors_and_nothing_is_written(string command)
    {
        var (args, output) = Command(command, "MODEL.BACKBONE.DEPTH", "34x");
        var (code, stdout, stderr) = CliRunner.Run(model.Data.Env, args);
        AssertOneLineError(command, code, stderr,
            $"MODEL.WEIGHTS '{model.Weights}' does not fill the model its config describes (missing: backbone.layer1.2.conv1.weight, ");
        Assert.Contains("is the config the one these weights were trained with? To use them anyway", stderr);
        Assert.Contains("pass --allow-partial-weights", stderr);
        Assert.False(File.Exists(output) || Directory.Exists(output), $"{output} was written");
        Assert.DoesNotContain("mAP", stdout);
    }

    [Fact]
    public void Weights_of_another_width_are_an_error_naming_the_shapes_even_with_the_flag()
    {
        foreach (var allow in new[] { false, true })
        {
            var (args, output) = Command("export", ["MODEL.BACKBONE.WIDTH_MULT", "0.5", "MODEL.BACKBONE.FEAT_DIM", "256", .. allow ? new[] { "--allow-partial-weights" } : []]);
            var (code, _, stderr) = CliRunner.Run(null, args);
            // nothing of the file fits a half-width model: there is no partial model to make
            AssertOneLineError("export", code, stderr, "matches the model's tensor names but none of their shapes (backbone.conv1.weight [16, 3, 7, 7] vs [32, 3, 7, 7]");
            Assert.False(Directory.Exists(output));
        }
    }

    [Fact]
    public void Weights_with_tensors_the_config_leaves_out_are_an_error_naming_them()
    {
        // the trained BNNeck, read by a config without one: the embedding would skip the trained normalisation
        var (args, output) = Command("embed", "MODEL.HEADS.WITH_BNNECK", "False");
        var (code, _, stderr) = CliRunner.Run(null, args);
        AssertOneLineError("embed", code, stderr, "(not in the model: heads.bottleneck.0.bias, heads.bottleneck.0.running_mean, ");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void The_flag_loads_what_fits_and_reports_the_rest()
    {
        const string report = "--allow-partial-weights: loaded ";
        var (embed, npz) = Command("embed", "--allow-partial-weights", "MODEL.BACKBONE.DEPTH", "34x");
        var (code, stdout, stderr) = CliRunner.Run(null, embed);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains(report, stderr);
        Assert.Contains("not in the file: backbone.layer1.2.conv1.weight", stderr);
        Assert.True(File.Exists(npz));

        var (evaluate, _) = Command("evaluate", "--allow-partial-weights", "MODEL.BACKBONE.DEPTH", "34x");
        (code, stdout, stderr) = CliRunner.Run(model.Data.Env, evaluate);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains(report, stderr);
        Assert.Contains("\"mAP\"", stdout);

        var (export, folder) = Command("export", "--allow-partial-weights", "MODEL.BACKBONE.DEPTH", "34x");
        (code, stdout, stderr) = CliRunner.Run(null, export);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains(report, stderr);
        Assert.Equal(["model.onnx", "verify.json"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Matching_weights_load_without_a_report_of_anything_left_out()
    {
        var (embed, npz) = Command("embed");
        var (code, stdout, stderr) = CliRunner.Run(null, embed);
        Assert.True(code == 0, stderr + stdout);
        var line = Assert.Single(stderr.Split('\n'), l => l.StartsWith("loaded ", StringComparison.Ordinal));
        Assert.Equal($"loaded {line.Split(' ')[1]} tensors from {model.Weights}", line);
        Assert.True(File.Exists(npz));
    }

    [Theory]
    [InlineData("embed", "--onnx", "m.onnx", "--images", "q", "--out", "q.npz")]
    [InlineData("evaluate", "--query", "q.npz", "--gallery", "g.npz")]
    [InlineData("evaluate", "--config", "c.yml", "--onnx", "m.onnx")]
    public void The_flag_is_a_usage_error_where_no_weights_are_loaded(params string[] args)
    {
        var (code, _, stderr) = CliRunner.Run(null, [.. args, "--allow-partial-weights"]);
        Assert.True(code == 2, $"exit {code}\n{stderr}");
        Assert.Contains("--allow-partial-weights goes with --config", stderr);
    }

    [Theory]
    [InlineData("embed")]
    [InlineData("evaluate")]
    [InlineData("export")]
    [InlineData("bench", "export")]
    public void Help_lists_the_flag(params string[] command)
    {
        var (code, stdout, _) = CliRunner.Run(null, [.. command, "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("--allow-partial-weights]", stdout); // in the usage line
        Assert.Contains("--allow-partial-weights", stdout.Split('\n').Select(l => l.Trim())); // and explained among the options
    }
}
