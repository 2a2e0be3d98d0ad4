using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using static FastReid.Pipeline.Tests.Tune.TuneFixtures;

namespace FastReid.Pipeline.Tests.Tune;

public sealed class SettingsTests
{
    private static AlgorithmSettings Parse(string json) => ApiJson.Deserialize<AlgorithmSettings>(json);

    [Fact]
    public void A_misspelled_setting_is_named_with_the_closest_one_and_the_algorithms_settings()
    {
        var errors = Errors(Spec("bohb", Parse("""{"eta": 3, "maxBudgt": 27}""")));
        var error = Assert.Single(errors);
        Assert.Equal("spec.algorithm.settings.maxBudgt", error.Path);
        Assert.Equal("maxBudgt is not a setting of bohb (did you mean maxBudget?); its settings are eta, minBudget, maxBudget, randomFraction, "
            + "topNPercent, bandwidthFactor, minBandwidth, numSamples, minPointsInModel, medianStopping", error.Message);
    }

    [Fact]
    public void A_setting_of_another_algorithm_is_refused_naming_whose_it_is()
    {
        var error = Assert.Single(Errors(Spec("tpe", new() { Eta = 3 }, budget: false)));
        Assert.Equal("spec.algorithm.settings.eta", error.Path);
        Assert.StartsWith("eta is a setting of hyperband, bohb, asha, dehb, not of tpe; its settings are startupTrials, gamma, candidates", error.Message);
        Assert.Single(Errors(Spec("random", Parse("""{"gridPoints": 4}"""), budget: false)), e => e.Path == "spec.algorithm.settings.gridPoints");
    }

    [Fact]
    public void A_misspelled_median_stopping_setting_is_named()
    {
        var error = Assert.Single(Errors(Spec("median", Parse("""{"medianStopping": {"gracePeriods": 2}}"""), budget: false)));
        Assert.Equal("spec.algorithm.settings.medianStopping.gracePeriods", error.Path);
        Assert.Contains("did you mean gracePeriod?", error.Message);
    }

    [Theory]
    [InlineData("""{"eta": 1}""", "spec.algorithm.settings.eta", "must be in [2, 100], got 1")]
    [InlineData("""{"minBudget": 0}""", "spec.algorithm.settings.minBudget", "must be in (0, 1000000000], got 0")]
    [InlineData("""{"minBudget": 9, "maxBudget": 3}""", "spec.algorithm.settings.maxBudget", "must be greater than minBudget (9), got 3")]
    [InlineData("""{"randomFraction": 1.5}""", "spec.algorithm.settings.randomFraction", "must be in [0, 1], got 1.5")]
    [InlineData("""{"minPointsInModel": 2}""", "spec.algorithm.settings.minPointsInModel", "must be at least the number of searched dimensions + 1 (3), got 2")]
    [InlineData("""{"minBudget": 1, "maxBudget": 2, "eta": 2}""", null, null)]
    public void Ranges_and_contradictions_are_errors_at_the_setting(string json, string? path, string? message)
    {
        var errors = Errors(Spec("bohb", Parse(json)));
        if (path is null) { Assert.Empty(errors); return; }
        var error = Assert.Single(errors);
        Assert.Equal((path, message), (error.Path, error.Message));
    }

    [Fact]
    public void Range_errors_are_reported_once_when_validation_and_the_factory_both_run()
    {
        var spec = Spec("asha", Parse("""{"eta": 0}"""));
        Assert.Single(Errors(spec), e => e.Path == "spec.algorithm.settings.eta");
        var alone = new List<FieldError>();
        Assert.Null(SearchAlgorithms.Create(spec, Space(spec), alone)); // without Validation.Validate, the factory still says why
        Assert.Single(alone, e => e.Path == "spec.algorithm.settings.eta");
    }

    [Theory]
    [InlineData("hyperband")]
    [InlineData("bohb")]
    [InlineData("asha")]
    [InlineData("dehb")]
    public void Multi_fidelity_algorithms_need_a_budget_key(string name)
    {
        var error = Assert.Single(Errors(Spec(name, budget: false)));
        Assert.Equal("spec.budget", error.Path);
        Assert.Contains("spec.budget.key", error.Message);
    }

    [Fact]
    public void Integer_budgets_that_collapse_once_rounded_are_refused()
    {
        var error = Assert.Single(Errors(Spec("hyperband", new() { MinBudget = 0.2, MaxBudget = 2, Eta = 2 })));
        Assert.Equal("spec.algorithm.settings.minBudget", error.Path);
        Assert.Contains("SOLVER.MAX_EPOCH takes whole numbers", error.Message);
    }

    [Fact]
    public void Defaults_fill_what_the_spec_leaves_out()
    {
        var hb = (HyperbandSearch)Create(Spec("hyperband"));
        Assert.Equal([1.0, 3, 9], hb.Schedule.Ladder);
        Assert.Equal("median", Create(Spec("median", budget: false)).Name);
        Assert.IsType<GridSearch>(Create(Spec("grid", budget: false)));
    }

    [Fact]
    public void Settings_round_trip_through_the_api_json_keeping_unknown_fields_for_the_error()
    {
        var settings = Parse("""{"eta": 3, "maxBudgt": 27, "medianStopping": {"minTrials": 4}}""");
        Assert.Equal(3, settings.Eta);
        Assert.Equal(4, settings.MedianStopping!.MinTrials);
        Assert.Contains("maxBudgt", ApiJson.Serialize(settings));
    }
}
