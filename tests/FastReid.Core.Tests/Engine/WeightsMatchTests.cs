using FastReid.Engine;

namespace FastReid.Core.Tests.Engine;

/// <summary>The loader's decision, by names and shapes alone: what a file lacks, holds in another shape, or holds for another model.</summary>
public sealed class WeightsMatchTests
{
    private static readonly Dictionary<string, long[]> Model = new()
    {
        ["backbone.conv1.weight"] = [16, 3, 7, 7],
        ["backbone.bn1.num_batches_tracked"] = [],
        ["backbone.layer1.2.conv1.weight"] = [16, 16, 3, 3], // a ResNet-34's third block
        ["heads.bottleneck.0.weight"] = [128],
        ["heads.weight"] = [4, 128],
    };

    [Fact]
    public void Missing_other_shape_and_unknown_tensors_keep_a_file_from_filling_the_model()
    {
        var file = new Dictionary<string, long[]>
        {
            ["backbone.conv1.weight"] = [16, 3, 7, 7],
            ["backbone.bn1.num_batches_tracked"] = [],
            ["backbone.layer4.0.nl.g.weight"] = [64, 128, 1, 1], // non-local block the config does not enable
            ["heads.bottleneck.0.weight"] = [128],
            ["heads.weight"] = [6, 128],
        };
        var match = WeightsMatch.Of(Model, file, prefix: "");
        Assert.False(match.FillsModel);
        Assert.Equal(["backbone.layer1.2.conv1.weight"], match.Missing);
        Assert.Equal(["heads.weight [6, 128] vs [4, 128]"], match.OtherShape);
        Assert.Equal(["backbone.layer4.0.nl.g.weight"], match.Unexpected);
        Assert.Equal(2, match.LoadedValues); // the counter is copied but is not a learnt value
        Assert.Equal("missing: backbone.layer1.2.conv1.weight; other shape: heads.weight [6, 128] vs [4, 128]; not in the model: backbone.layer4.0.nl.g.weight",
            match.Problems());
    }

    [Fact]
    public void A_distilled_students_connectors_and_bn_counters_are_accepted_extras()
    {
        var file = Model.Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToDictionary();
        file["connectors_0.0.0.weight"] = [32, 16, 1, 1];
        file["connectors_0.0.1.running_var"] = [32];
        file["connectors_0.0.1.num_batches_tracked"] = [];
        file["heads.bottleneck.0.num_batches_tracked"] = []; // a counter the model does not keep
        var match = WeightsMatch.Of(Model, file, prefix: "");
        Assert.True(match.FillsModel, match.Problems());
        Assert.Empty(match.Missing); // the model's counter the file lacks is not missing
        Assert.Equal(4, match.Extras.Count);
        Assert.Contains("left out 2 distillation connector tensors (connectors_*", match.Report("student.pth"));
    }

    [Fact]
    public void With_a_prefix_only_the_models_names_under_it_can_be_missing()
    {
        var file = new Dictionary<string, long[]> { ["conv1.weight"] = [16, 3, 7, 7], ["fc.weight"] = [1000, 512] };
        var match = WeightsMatch.Of(Model, file, prefix: "backbone.");
        Assert.Equal(["backbone.layer1.2.conv1.weight"], match.Missing); // heads.* are not the backbone's
        Assert.Equal(["fc.weight"], match.Unexpected);
        Assert.Equal(["conv1.weight"], match.Loadable);
    }

    [Fact]
    public void Counters_alone_are_no_loaded_values()
    {
        var file = new Dictionary<string, long[]> { ["backbone.bn1.num_batches_tracked"] = [], ["backbone.conv1.weight"] = [32, 3, 7, 7] };
        var match = WeightsMatch.Of(Model, file, prefix: "");
        Assert.Equal(0, match.LoadedValues);
        Assert.Equal(["backbone.bn1.num_batches_tracked"], match.Loadable);
    }
}
