namespace FastReid.Pipeline.Tune;

/// <summary>The model settings of <see cref="BohbSearch"/> (the defaults are BOHB's).</summary>
public sealed record BohbSettings(double RandomFraction, double TopNPercent, double BandwidthFactor, double MinBandwidth, int NumSamples, int MinPointsInModel);

/// <summary>
/// BOHB (Falkner et al. 2018): Hyperband's schedule, with new configurations from a model. A
/// <c>randomFraction</c> of them (decided per trial id) are uniform draws; the rest come from kernel densities
/// fitted at the largest budget with at least <c>minPointsInModel</c> + 2 results (failed and stopped trials at
/// that budget are the worst): the best max(minPointsInModel, topNPercent % of them) form l(x), the next
/// max(minPointsInModel, the rest) g(x) (HpBandSter's split: the two never share a point, and a budget where
/// either has no more points than dimensions is skipped for a lower one), both with the normal reference
/// bandwidths floored at <c>minBandwidth</c>. Of <c>numSamples</c> draws from l with
/// bandwidths widened by <c>bandwidthFactor</c>, the one with the largest l(x)/g(x) is tried. No model yet: a
/// uniform draw.
/// </summary>
public sealed class BohbSearch(SearchSpace space, int seed, HyperbandSchedule schedule, BohbSettings settings) : HyperbandSearch(space, seed, schedule)
{
    public override string Name => "bohb";

    protected override TrialParams NewConfig(IReadOnlyList<TrialView> trials, int id)
    {
        if (Seeds.For(Seed, id, 2).NextDouble() < settings.RandomFraction || Fit(trials) is not { } model)
            return Space.Sample(Seeds.For(Seed, id));
        var random = Seeds.For(Seed, id, 1);
        double[]? best = null;
        double bestScore = double.NegativeInfinity;
        for (int c = 0; c < settings.NumSamples; c++)
        {
            var x = model.Good.Sample(random, settings.BandwidthFactor, settings.MinBandwidth);
            double score = Math.Log(Math.Max(model.Good.Density(x), 1e-300)) - Math.Log(Math.Max(model.Bad.Density(x), 1e-300));
            if (score > bestScore) { bestScore = score; best = x; }
        }
        return Space.Decode(best!);
    }

    /// <summary>The densities of the largest budget that has enough results, with that budget; null when none has.</summary>
    public (ParzenEstimator Good, ParzenEstimator Bad, double Budget)? Fit(IReadOnlyList<TrialView> trials)
    {
        for (int k = Schedule.Ladder.Count - 1; k >= 0; k--)
        {
            double budget = Schedule.Ladder[k];
            var ranked = Observations.Ranked(Space, trials, budget);
            if (ranked.Count < settings.MinPointsInModel + 2) continue;
            int good = Math.Max(settings.MinPointsInModel, (int)(settings.TopNPercent * ranked.Count / 100));
            int bad = Math.Max(settings.MinPointsInModel, (int)((100 - settings.TopNPercent) * ranked.Count / 100));
            // HpBandSter's split: g(x) is the results ranked just after the good ones, never the good ones again,
            // and a budget whose either set has no more points than dimensions has no model (a lower one is used).
            var goodPoints = ranked.Take(good).ToList();
            var badPoints = ranked.Skip(good).Take(bad).ToList();
            if (goodPoints.Count <= Space.Dimensions.Count || badPoints.Count <= Space.Dimensions.Count) continue;
            return (Density(goodPoints), Density(badPoints), budget);
        }
        return null;
    }

    private ParzenEstimator Density(List<double[]> points) =>
        new(Space.Dimensions, points, ParzenEstimator.NormalReference(Space.Dimensions, points, settings.MinBandwidth), priorWeight: 0);
}
