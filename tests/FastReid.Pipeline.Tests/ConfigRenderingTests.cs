using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using YamlDotNet.RepresentationModel;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public class ConfigRenderingTests
{
    /// <summary>Reads YAML back with a real YAML parser into JSON, scalars resolved as YAML 1.1 readers (PyYAML, yacs) do.</summary>
    private static JsonNode? ReadBack(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode);
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value!, Convert(p.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(Convert).ToArray()),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } scalar => Plain(scalar.Value!),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new InvalidOperationException(),
    };

    private static JsonNode? Plain(string text)
    {
        if (text is "null" or "~") return null;
        if (text is "true" or "false") return JsonValue.Create(text == "true");
        if (System.Text.RegularExpressions.Regex.IsMatch(text, @"^[-+]?[0-9]+$")) return JsonValue.Create(long.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
        // YAML 1.1 floats need a dot: 1e-05 is a string there, 1.0e-05 a float.
        if (System.Text.RegularExpressions.Regex.IsMatch(text, @"^[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?$"))
            return JsonValue.Create(double.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
        return JsonValue.Create(text);
    }

    [Fact]
    public void Yaml_reads_back_as_the_same_tree()
    {
        var tree = new JsonObject
        {
            ["MODEL"] = new JsonObject { ["BACKBONE"] = new JsonObject { ["NAME"] = "build_resnet_backbone", ["DEPTH"] = "50x", ["WITH_IBN"] = true } },
            ["SOLVER"] = new JsonObject { ["BASE_LR"] = 0.00001, ["STEPS"] = new JsonArray(40, 90), ["OPT"] = "Adam" },
            ["TRICKY"] = new JsonObject
            {
                ["yes"] = "no", ["num_string"] = "1.0", ["colon"] = "a: b", ["hash"] = "# not a comment", ["empty"] = "",
                ["quote"] = "say \"hi\"\n", ["null"] = null, ["nested"] = new JsonArray(new JsonObject { ["A"] = 1 }, new JsonArray()),
                ["unicode"] = "Ünïcödé", ["blank_map"] = new JsonObject(),
            },
        };
        var yaml = YamlText.Write(tree);
        Assert.True(JsonNode.DeepEquals(tree, ReadBack(yaml)), yaml);
        Assert.Contains("BASE_LR: 1.0E-05", yaml, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_effective_config_adds_what_the_operator_owns()
    {
        var errors = new List<FieldError>();
        var e = Experiment(gpus: 4);
        var config = EffectiveConfig.Build(e.Spec, "s3://models/market-r50", "spec", errors);
        Assert.Empty(errors);
        Assert.Equal("s3://models/market-r50", config["OUTPUT_DIR"]!.GetValue<string>());
        Assert.Equal("Market1501", config["DATASETS"]!["NAMES"]![0]!.GetValue<string>());
        Assert.Equal("Market1501", config["DATASETS"]!["TESTS"]![0]!.GetValue<string>());
        Assert.Equal("cuda", config["MODEL"]!["DEVICE"]!.GetValue<string>());
        Assert.Equal("50x", config["MODEL"]!["BACKBONE"]!["DEPTH"]!.GetValue<string>());
        Assert.Null(e.Spec.Config!["OUTPUT_DIR"]); // the spec itself is untouched
    }

    [Fact]
    public void User_choices_for_datasets_and_device_are_kept()
    {
        var e = Experiment(gpus: 4);
        e.Spec.Config!["MODEL"]!["DEVICE"] = "cpu";
        e.Spec.Config["DATASETS"] = new JsonObject { ["TESTS"] = new JsonArray("Market1501", "DukeMTMC") };
        var config = EffectiveConfig.Build(e.Spec, "s3://x/y", "spec", []);
        Assert.Equal("cpu", config["MODEL"]!["DEVICE"]!.GetValue<string>());
        Assert.Equal(2, config["DATASETS"]!["TESTS"]!.AsArray().Count);
    }

    [Fact]
    public void A_section_that_is_not_a_mapping_is_named()
    {
        var e = Experiment();
        e.Spec.Config!["MODEL"] = "resnet";
        var errors = new List<FieldError>();
        EffectiveConfig.Build(e.Spec, "s3://x/y", "spec", errors);
        Assert.Equal("spec.config.MODEL", Assert.Single(errors).Path);
    }

    [Fact]
    public void Fastreid_metric_names_are_read_from_the_result()
    {
        var result = TrainerResult.TryParse("""{"metrics": {"Rank-1": 94.2, "Rank-5": 97.8, "Rank-10": 98.5, "mAP": 86.1, "mINP": 61.0, "TPR@FPR=0.01": 3}}""", out var error);
        Assert.Null(error);
        Assert.Equal((94.2, 97.8, 98.5, 86.1, 61.0), (result!.Metrics.Rank1, result.Metrics.Rank5, result.Metrics.Rank10, result.Metrics.MAP, result.Metrics.MINP));
    }

    [Theory]
    [InlineData(null, "no termination message")]
    [InlineData("Traceback: boom", "not result JSON")]
    [InlineData("[1, 2]", "not result JSON")]
    public void Unreadable_results_explain_themselves(string? message, string expected)
    {
        Assert.Null(TrainerResult.TryParse(message, out var error));
        Assert.Contains(expected, error);
    }
}
