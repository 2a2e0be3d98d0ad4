namespace FastReid.Pipeline.Tune;

/// <summary>
/// DEHB (Awad, Mallik and Hutter 2021): differential evolution over Hyperband's brackets (the same
/// <see cref="HyperbandSchedule"/>). Each budget of the ladder has a subpopulation of unit-cube points, as many as
/// the largest rung any bracket has at that budget. Bracket j belongs to iteration j / (sMax + 1):
/// <list type="bullet">
/// <item>Iteration 0, bracket 0: uniform draws at the smallest budget, then successive halving.</item>
/// <item>Iteration 0, later brackets: the first rung is evolved (below); the rungs above it are successive
/// halving's promotions, each a <see cref="Promotion"/> of the same trial, which resumes its checkpoint.</item>
/// <item>Later iterations: every rung is evolved, so its trials are new trials at that rung's budget.</item>
/// </list>
/// Evolving a rung of n trials at budget level k: trial p of the rung has as target the subpopulation's member
/// (offset + p) mod size, the offset counting the rungs every earlier bracket had at level k (so the targets cycle
/// through the subpopulation, fixed by the schedule alone). Its mutant is rand/1, a + F (b - c), with a, b, c
/// distinct members of the parent pool: for a bracket's first rung, the best n of level k - 1's subpopulation (at
/// level 0, that subpopulation itself); for a higher rung, the best n of the bracket's rung below (the trials
/// successive halving would promote). A pool of fewer than three is filled from every subpopulation, then with
/// uniform draws. Binomial crossover with the target (each coordinate from the mutant with probability CR, one
/// always), a coordinate outside the cube redrawn uniformly. Selection: a trial that finished at level k replaces
/// its target when its loss is no worse (a target never evaluated is always replaced; failed and stopped trials
/// never replace). The subpopulations are rebuilt from the trials at every step, the finished trials applied in
/// schedule order (bracket, then position in the rung), and every draw is seeded by the trial id. A rung starts
/// only once the rung below ended, as in <see cref="HyperbandSearch"/>; free slots go to the oldest bracket first,
/// and a new bracket opens when the open ones have nothing to hand out. Never exhausted.
/// </summary>
public sealed class DehbSearch(SearchSpace space, int seed, HyperbandSchedule schedule, double mutationFactor, double crossoverProb) : ISearchAlgorithm
{
    private const int RandomStream = 1, InitialStream = 300;

    public string Name => "dehb";
    public bool UsesBudget => true;
    public HyperbandSchedule Schedule => schedule;

    /// <summary>The size of the subpopulation at ladder level <paramref name="level"/>: the largest rung any bracket has there.</summary>
    public int PopulationSize(int level) =>
        Enumerable.Range(0, schedule.SMax + 1).Where(j => schedule.FirstRung(j) <= level).Max(j => schedule.RungSize(j, level - schedule.FirstRung(j)));

    public SearchStep Next(IReadOnlyList<TrialView> trials, SearchContext context)
    {
        if (context.Slots <= 0) return SearchStep.None();
        var work = new Work(context.Slots, context.TrialsLeft, trials.Count);
        var populations = Populations(trials);
        var brackets = trials.GroupBy(t => t.Bracket).OrderBy(g => g.Key).ToList();
        foreach (var bracket in brackets)
        {
            if (work.Slots == 0) break;
            Advance(bracket.Key, [.. bracket], trials, populations, work);
        }
        int next = brackets.Count == 0 ? 0 : brackets[^1].Key + 1;
        while (work.Slots > 0 && work.Left > 0 && (brackets.Count == 0 || FirstRungStarted(brackets[^1].Key, [.. brackets[^1]], work)))
        {
            Advance(next, [], trials, populations, work);
            if (!FirstRungStarted(next, [], work)) break;
            next++;
        }
        return new SearchStep(work.Start, work.Promote, [], Exhausted: false);
    }

    /// <summary>The subpopulation of each ladder level as the finished trials left it.</summary>
    public Member[][] Populations(IReadOnlyList<TrialView> trials)
    {
        var populations = new Member[schedule.Ladder.Count][];
        for (int k = 0; k < populations.Length; k++)
        {
            populations[k] = new Member[PopulationSize(k)];
            for (int i = 0; i < populations[k].Length; i++)
            {
                var random = Seeds.For(seed, i, InitialStream + k);
                populations[k][i] = new Member([.. space.Dimensions.Select(_ => random.NextDouble())], double.PositiveInfinity, -1);
            }
        }
        foreach (var bracket in trials.GroupBy(t => t.Bracket).OrderBy(g => g.Key))
            for (int r = 0; r <= schedule.S(bracket.Key); r++)
            {
                int level = schedule.FirstRung(bracket.Key) + r;
                var population = populations[level];
                var rung = RungMembers(bracket.Key, r, [.. bracket]);
                for (int p = 0; p < rung.Count; p++)
                {
                    if (LossAt(rung[p], level) is not { } loss || !double.IsFinite(loss)) continue;
                    int target = (Offset(bracket.Key, level) + p) % population.Length;
                    if (population[target].TrialId < 0 || loss <= population[target].Loss)
                        population[target] = new Member(space.Encode(rung[p].Params), loss, rung[p].Id);
                }
            }
        return populations;
    }

    /// <summary>A subpopulation's member: a point, its loss at the level's budget (infinite until evaluated), and the trial that set it (-1: the initial draw).</summary>
    public sealed record Member(double[] Point, double Loss, int TrialId);

    /// <summary>The trials or promotions bracket <paramref name="bracket"/> is ready for, within the free slots.</summary>
    private void Advance(int bracket, List<TrialView> members, IReadOnlyList<TrialView> trials, Member[][] populations, Work work)
    {
        int first = schedule.FirstRung(bracket);
        bool promotes = bracket / (schedule.SMax + 1) == 0;
        int size = schedule.RungSize(bracket, 0);
        bool truncated = false;
        for (int r = 0; r <= schedule.S(bracket); r++)
        {
            int level = first + r;
            var rung = RungMembers(bracket, r, members);
            var below = r == 0 ? null : Ranked(RungMembers(bracket, r - 1, members), level - 1);
            if (r > 0 && promotes)
            {
                // Successive halving: the best of the rung below resume at this budget.
                var top = below!.Take(size).ToList();
                foreach (var t in top.Where(t => t.State == TrialState.Succeeded && Budgets.Same(t.Budget, schedule.Ladder[level - 1])))
                {
                    if (work.Slots == 0) return;
                    work.Promote.Add(new Promotion(t.Id, schedule.Ladder[level]));
                    work.Slots--;
                }
                if (rung.Count < top.Count) return; // promoted now: the rung is not complete
            }
            else
            {
                int started = rung.Count + work.Start.Count(s => s.Bracket == bracket && schedule.RungOf(s.Budget) == level);
                if (started < size && work.Left > 0)
                {
                    var pool = r == 0
                        ? (level == 0 ? populations[0] : populations[level - 1]).Where(m => m.TrialId >= 0).OrderBy(m => m.Loss).ThenBy(m => m.TrialId).Take(size).Select(m => m.Point)
                        : below!.Take(size).Select(t => space.Encode(t.Params));
                    bool uniform = bracket == 0;
                    for (int p = started; p < size && work.Slots > 0 && work.Left > 0; p++)
                    {
                        int id = work.NextId;
                        var target = populations[level][(Offset(bracket, level) + p) % populations[level].Length];
                        var parameters = uniform ? space.Sample(Seeds.For(seed, id)) : space.Decode(Offspring(target.Point, [.. pool], populations, id));
                        work.Start.Add(new Suggestion(parameters, schedule.Ladder[level], bracket));
                        work.Slots--; work.Left--;
                    }
                    return; // the rung is not complete while it is still filling
                }
                truncated |= started < size;
                rung = RungMembers(bracket, r, members);
            }
            if (rung.Count == 0 || rung.Any(t => !Ended(t, level))) return;
            if (!promotes && rung.Count < size) return; // still starting (the rest come with later slots)
            if (r < schedule.S(bracket))
                size = truncated ? Math.Max(1, rung.Count / schedule.Eta) : schedule.RungSize(bracket, r + 1);
        }
    }

    /// <summary>
    /// A new point: rand/1 mutation from <paramref name="pool"/> (filled to three from every subpopulation, then
    /// uniform draws), binomial crossover with <paramref name="target"/>, coordinates outside the cube redrawn.
    /// </summary>
    public double[] Offspring(double[] target, IReadOnlyList<double[]> pool, Member[][] populations, int trialId)
    {
        var random = Seeds.For(seed, trialId, RandomStream);
        var parents = pool.ToList();
        if (parents.Count < 3)
            parents.AddRange(populations.SelectMany(p => p).Where(m => m.TrialId >= 0 && !parents.Any(q => q.SequenceEqual(m.Point))).Select(m => m.Point));
        while (parents.Count < 3) parents.Add([.. target.Select(_ => random.NextDouble())]);
        int a = random.Next(parents.Count), b, c;
        do b = random.Next(parents.Count); while (b == a);
        do c = random.Next(parents.Count); while (c == a || c == b);
        int d = target.Length, always = random.Next(d);
        var x = new double[d];
        for (int j = 0; j < d; j++)
        {
            double mutant = parents[a][j] + mutationFactor * (parents[b][j] - parents[c][j]);
            if (mutant is < 0 or >= 1) mutant = random.NextDouble();
            x[j] = j == always || random.NextDouble() < crossoverProb ? mutant : target[j];
        }
        return x;
    }

    /// <summary>Rung r of a bracket: in iteration 0 the trials that reached its level, later the trials started at its level; by id.</summary>
    private List<TrialView> RungMembers(int bracket, int r, List<TrialView> members)
    {
        int level = schedule.FirstRung(bracket) + r;
        return bracket / (schedule.SMax + 1) == 0
            ? [.. members.Where(t => schedule.RungOf(t.Budget) >= level).OrderBy(t => t.Id)]
            : [.. members.Where(t => StartLevel(t) == level).OrderBy(t => t.Id)];
    }

    /// <summary>The rung's trials with a finite loss at the level, best first (ties by id).</summary>
    private List<TrialView> Ranked(List<TrialView> rung, int level) =>
        [.. rung.Select(t => (Trial: t, Loss: LossAt(t, level))).Where(x => x.Loss is { } l && double.IsFinite(l))
            .OrderBy(x => x.Loss).ThenBy(x => x.Trial.Id).Select(x => x.Trial)];

    private int StartLevel(TrialView t) => schedule.RungOf(t.Results.Count > 0 ? t.Results[0].Budget : t.Budget);

    private double? LossAt(TrialView t, int level) => t.Results.FirstOrDefault(r => Budgets.Same(r.Budget, schedule.Ladder[level]))?.Loss;

    /// <summary>Whether a trial is done with a level: a result there, or failed or stopped while given it.</summary>
    private bool Ended(TrialView t, int level) =>
        LossAt(t, level) is not null || t.State is TrialState.Failed or TrialState.Stopped && Budgets.Same(t.Budget, schedule.Ladder[level]);

    /// <summary>The rungs at <paramref name="level"/> of every bracket before <paramref name="bracket"/>, so each bracket's targets continue the cycle.</summary>
    private int Offset(int bracket, int level)
    {
        int offset = 0;
        for (int j = 0; j < bracket; j++)
            if (schedule.FirstRung(j) <= level) offset += schedule.RungSize(j, level - schedule.FirstRung(j));
        return offset;
    }

    private bool FirstRungStarted(int bracket, List<TrialView> members, Work work) =>
        members.Count(t => StartLevel(t) == schedule.FirstRung(bracket))
        + work.Start.Count(s => s.Bracket == bracket && schedule.RungOf(s.Budget) == schedule.FirstRung(bracket)) >= schedule.RungSize(bracket, 0);

    /// <summary>What a step hands out so far, and what is left of the slots and trials.</summary>
    private sealed class Work(int slots, int left, int trials)
    {
        public int Slots { get; set; } = slots;
        public int Left { get; set; } = left;
        public List<Suggestion> Start { get; } = [];
        public List<Promotion> Promote { get; } = [];
        public int NextId => trials + Start.Count;
    }
}
