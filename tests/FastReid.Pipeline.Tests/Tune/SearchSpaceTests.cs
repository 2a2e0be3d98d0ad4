using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;

namespace FastReid.Pipeline.Tests.Tune;

public sealed class SearchSpaceTests
{
    private static (SearchSpace? Space, List<FieldError> Errors) Parse(Dictionary<string, SearchParameter> parameters)
    {
        var errors = new List<FieldError>();
        return (SearchSpace.Parse(parameters, errors), errors);
    }

    private static readonly Dictionary<string, SearchParameter> Mixed = new()
    {
        ["SOLVER.BASE_LR"] = new() { Type = "loguniform", Min = 1e-5, Max = 1e-2 },
        ["SOLVER.IMS_PER_BATCH"] = new() { Type = "quniform", Min = 32, Max = 128, Step = 32 },
        ["DATALOADER.NUM_INSTANCE"] = new() { Type = "randint", Min = 2, Max = 8 },
        ["SOLVER.OPT"] = new() { Type = "choice", Values = ["Adam", "SGD"] },
        ["SOLVER.MOMENTUM"] = new() { Type = "uniform", Min = 0.5, Max = 0.99 },
        ["SOLVER.WEIGHT_DECAY"] = new() { Type = "fixed", Values = [0.0005] },
    };

    [Fact]
    public void Dimensions_are_in_key_order_and_every_value_fits_its_key_and_range()
    {
        var (space, errors) = Parse(Mixed);
        Assert.Empty(errors);
        Assert.Equal(Mixed.Keys.Order(StringComparer.Ordinal), space!.Dimensions.Select(d => d.Key));
        var random = new Random(3);
        for (int i = 0; i < 500; i++)
        {
            var p = space.Sample(random);
            double lr = p["SOLVER.BASE_LR"]!.GetValue<double>();
            Assert.InRange(lr, 1e-5, 1e-2);
            Assert.Contains(p["SOLVER.IMS_PER_BATCH"]!.GetValue<long>(), new long[] { 32, 64, 96, 128 });
            Assert.InRange(p["DATALOADER.NUM_INSTANCE"]!.GetValue<long>(), 2, 8);
            Assert.Contains(p["SOLVER.OPT"]!.GetValue<string>(), new[] { "Adam", "SGD" });
            Assert.InRange(p["SOLVER.MOMENTUM"]!.GetValue<double>(), 0.5, 0.99);
            Assert.Equal(0.0005, p["SOLVER.WEIGHT_DECAY"]!.GetValue<double>());
            // encoding and decoding again gives the same values: discrete ones at their cells' centres
            Assert.Equal(p, space.Decode(space.Encode(p)));
        }
    }

    [Fact]
    public void Discrete_dimensions_draw_every_value_about_equally_and_loguniform_is_uniform_in_the_log()
    {
        var (space, _) = Parse(Mixed);
        var random = new Random(11);
        var draws = Enumerable.Range(0, 4000).Select(_ => space!.Sample(random)).ToList();
        foreach (var (key, values) in new[] { ("DATALOADER.NUM_INSTANCE", 7), ("SOLVER.IMS_PER_BATCH", 4), ("SOLVER.OPT", 2) })
        {
            var counts = draws.GroupBy(d => d[key]!.ToJsonString()).Select(g => g.Count()).ToList();
            Assert.Equal(values, counts.Count);
            Assert.All(counts, c => Assert.InRange(c, 4000 / values * 0.85, 4000 / values * 1.15));
        }
        // half of the draws below the geometric mean 3.16e-4, not below the arithmetic one
        double below = draws.Count(d => d["SOLVER.BASE_LR"]!.GetValue<double>() < Math.Sqrt(1e-5 * 1e-2)) / 4000.0;
        Assert.InRange(below, 0.46, 0.54);
    }

    [Fact]
    public void Bad_keys_and_types_are_named_with_what_to_use()
    {
        var (space, errors) = Parse(new()
        {
            ["SOLVER.BASE_LRR"] = new() { Type = "uniform", Min = 0, Max = 1 },
            ["MODEL.BACKBONE.WITH_SE"] = new() { Type = "choice", Values = [true, false] },
            ["SOLVER.OPT"] = new() { Type = "uniform", Min = 0, Max = 1 },
            ["SOLVER.IMS_PER_BATCH"] = new() { Type = "uniform", Min = 32, Max = 128 },
            ["DATALOADER.NUM_INSTANCE"] = new() { Type = "choice", Values = [2, "four"] },
            ["SOLVER.MAX_EPOCH"] = new() { Type = "fixed", Values = [3, 4] },
            ["SOLVER.GAMMA"] = new() { Type = "quniform", Min = 0, Max = 1, Step = 0.5 },
            ["DATALOADER.NUM_WORKERS"] = new() { Type = "quniform", Min = 0, Max = 4, Step = 0.5 },
        });
        Assert.Null(space);
        var messages = errors.Select(e => e.ToString()).ToList();
        Assert.Contains("spec.searchSpace[\"SOLVER.BASE_LRR\"]: 'SOLVER.BASE_LRR' is not a FastReID config key (closest: SOLVER.BASE_LR)", messages);
        Assert.Contains(messages, m => m.StartsWith("spec.searchSpace[\"MODEL.BACKBONE.WITH_SE\"]: ", StringComparison.Ordinal) && m.Contains("does not implement", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("spec.searchSpace[\"SOLVER.OPT\"].type: uniform draws numbers", StringComparison.Ordinal) && m.Contains("use choice", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("spec.searchSpace[\"SOLVER.IMS_PER_BATCH\"].type: ", StringComparison.Ordinal) && m.Contains("integer key", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("spec.searchSpace[\"DATALOADER.NUM_INSTANCE\"].values[1]: \"four\"", StringComparison.Ordinal));
        Assert.Contains("spec.searchSpace[\"SOLVER.MAX_EPOCH\"].values: fixed takes exactly one value (values: [X])", messages);
        Assert.Contains(messages, m => m.StartsWith("spec.searchSpace[\"DATALOADER.NUM_WORKERS\"].step: ", StringComparison.Ordinal));
        Assert.DoesNotContain(messages, m => m.Contains("SOLVER.GAMMA", StringComparison.Ordinal)); // a float key takes a fractional step
        Assert.Equal(7, errors.Count);
    }

    [Fact]
    public void The_same_values_in_another_order_are_the_same_configuration()
    {
        var a = new TrialParams([KeyValuePair.Create("B", (JsonNode?)JsonValue.Create(1)), KeyValuePair.Create("A", (JsonNode?)JsonValue.Create("x"))]);
        var b = new TrialParams([KeyValuePair.Create("A", (JsonNode?)JsonValue.Create("x")), KeyValuePair.Create("B", (JsonNode?)JsonValue.Create(1))]);
        Assert.Equal(a, b);
        Assert.Equal("{\"A\":\"x\",\"B\":1}", a.ToString());
        Assert.Equal(a, TrialParams.FromJson(JsonNode.Parse(a.ToString())!.AsObject()));
    }
}
