using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace FastReid.Cli.Tests;

/// <summary>
/// <c>fastreid tune</c> as a user runs it: black-box trials (<c>--trial-command</c>, a python script computing a
/// known function from FASTREID_TRIAL_PARAMS) for the sweep's mechanics, and one sweep of real training trials.
/// </summary>
public sealed class TuneCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-tune-").FullName;
    private string Shared => Directory.CreateDirectory(Path.Combine(_dir, "shared")).FullName;
    private string Script => Path.Combine(_dir, "trial.py");

    public TuneCommandTests() => File.WriteAllText(Script, TrialScript);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// The black box: objective (x - 0.3)² + (y - 0.7)², minimised, with x = SOLVER.BASE_LR and y = SOLVER.MOMENTUM;
    /// TUNE_TEST_MODE makes some trials fail, wait for each other, or hang, as the test needs.
    /// </summary>
    private const string TrialScript = """
        import json, os, sys, time
        p = json.loads(os.environ["FASTREID_TRIAL_PARAMS"])
        i = int(os.environ["FASTREID_TRIAL_ID"])
        d = os.environ["FASTREID_TRIAL_DIR"]
        shared = os.environ["TUNE_TEST_SHARED"]
        mode = os.environ.get("TUNE_TEST_MODE", "")
        with open(os.path.join(shared, "runs.log"), "a") as f:
            f.write(f"{i}\n")
        def wait_for(condition, what):
            deadline = time.time() + 120
            while not condition():
                if time.time() > deadline:
                    sys.stderr.write(f"timed out waiting for {what}\n")
                    sys.exit(4)
                time.sleep(0.02)
        if mode == "fail" and i == 0:
            sys.stderr.write("starting\nboom: no GPU here\n")
            sys.exit(3)
        if mode == "fail" and i == 1:
            print("not json at all")
            sys.exit(0)
        if mode == "overlap":
            start = time.time()
            open(os.path.join(shared, f"{i}.start"), "w").close()
            # trials run two at a time: each pair waits until both have started
            wait_for(lambda: len([n for n in os.listdir(shared) if n.endswith(".start")]) >= 2 * (i // 2) + 2, "the other trial of the pair")
            with open(os.path.join(shared, f"{i}.times"), "w") as f:
                f.write(f"{start} {time.time()}")
        if mode == "resume" and i == 2 and not os.path.exists(os.path.join(d, "attempted")):
            with open(os.path.join(d, "attempted"), "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)
        bias = 0.0
        if mode == "median":
            # intermediate readings at steps 1..5 that approach the final value; a trial stopped early never gets there
            f = (p["SOLVER.BASE_LR"] - 0.3) ** 2 + (p["SOLVER.MOMENTUM"] - 0.7) ** 2
            for step in range(1, 6):
                print(json.dumps({"objective": f + 0.02 * (5 - step), "step": step}), flush=True)
                time.sleep(0.4)
        if mode == "fidelity":
            # the folder is the trial's across promotions: it keeps every budget the trial was given
            with open(os.path.join(d, "budgets.txt"), "a") as f:
                f.write(os.environ["FASTREID_TRIAL_BUDGET"] + "\n")
            bias = 1.0 / float(os.environ["FASTREID_TRIAL_BUDGET"])
        print(json.dumps({"budget": os.environ["FASTREID_TRIAL_BUDGET"]}))
        print(json.dumps({"objective": (p["SOLVER.BASE_LR"] - 0.3) ** 2 + (p["SOLVER.MOMENTUM"] - 0.7) ** 2 + bias}))
        """;

    private string Manifest(int maxTrials, int parallelism, int maxFailedTrials = 2, int seed = 7, string name = "quadratic", string extra = "")
    {
        var path = Path.Combine(_dir, $"{name}.yaml");
        File.WriteAllText(path, $"""
            apiVersion: fastreid.io/v1alpha1
            kind: TuneSweep
            metadata:
              name: {name}
            spec:
              template:
                dataset: {"{name: Synthetic}"}
                config: {"{SOLVER: {MAX_EPOCH: 9}}"}
              searchSpace:
                SOLVER.BASE_LR: {"{type: uniform, min: 0.0, max: 1.0}"}
                SOLVER.MOMENTUM: {"{type: uniform, min: 0.0, max: 1.0}"}
              objective: {"{metric: score, goal: minimize}"}
              algorithm: {"{name: random, seed: " + seed + "}"}
              parallelism: {parallelism}
              maxTrials: {maxTrials}
              maxFailedTrials: {maxFailedTrials}
            {extra}
            """);
        return path;
    }

    private Dictionary<string, string> Env(string mode = "") => new() { ["TUNE_TEST_SHARED"] = Shared, ["TUNE_TEST_MODE"] = mode };

    private string[] Tune(string manifest, params string[] more) =>
        ["tune", "-f", manifest, "--out", Path.Combine(_dir, "sweep"), "--trial-command", $"python3 {Script}", .. more];

    private JsonObject SweepJson() => JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "sweep", "sweep.json")))!.AsObject();

    private static List<JsonObject> Trials(JsonObject sweep) => [.. sweep["trials"]!.AsArray().Cast<JsonObject>()];

    private List<int> Runs() => [.. File.ReadAllLines(Path.Combine(Shared, "runs.log")).Select(l => int.Parse(l, CultureInfo.InvariantCulture))];

    private static double Objective(JsonObject trial) => (double)trial["objective"]!;

    [Fact]
    public void Random_search_finds_near_the_optimum_of_a_2d_function()
    {
        var (code, stdout, stderr) = CliRunner.Run(Env(), Tune(Manifest(maxTrials: 40, parallelism: 4)));
        Assert.True(code == 0, stderr + stdout);

        var sweep = SweepJson();
        var trials = Trials(sweep);
        Assert.Equal(40, trials.Count);
        Assert.All(trials, t => Assert.Equal("Succeeded", (string?)t["status"]));
        Assert.Equal("MaxTrialsReached", (string?)sweep["outcome"]!["reason"]);
        // every trial at the template's budget (SOLVER.MAX_EPOCH 9), which the command was told
        Assert.All(trials, t => Assert.Equal(9.0, (double)t["budget"]!));
        Assert.Equal(360.0, (double)sweep["budgetSpent"]!);
        Assert.Contains("{\"budget\": \"9\"}", File.ReadAllText(Path.Combine(_dir, "sweep", "trials", "0000", "stdout.log")));

        // the objective each trial reported is the function at its params, and the best is the lowest
        foreach (var t in trials)
        {
            double x = (double)t["params"]!["SOLVER.BASE_LR"]!, y = (double)t["params"]!["SOLVER.MOMENTUM"]!;
            Assert.Equal((x - 0.3) * (x - 0.3) + (y - 0.7) * (y - 0.7), Objective(t), 9);
        }
        var best = sweep["best"]!.AsObject();
        Assert.Equal(trials.Min(Objective), Objective(best));
        Assert.True(Objective(best) < 0.03, $"40 random draws came no closer than {Objective(best)} to the optimum");
        Assert.InRange((double)best["params"]!["SOLVER.BASE_LR"]!, 0.3 - 0.18, 0.3 + 0.18);
        Assert.InRange((double)best["params"]!["SOLVER.MOMENTUM"]!, 0.7 - 0.18, 0.7 + 0.18);
        Assert.Contains($"best trial {(int)best["id"]!}: objective", stdout);
        Assert.Equal(40, stdout.Split('\n').Count(l => l.StartsWith("trial ", StringComparison.Ordinal) && l.Contains(" Succeeded budget 9 objective ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Hyperband_promotes_the_best_third_of_each_rung_in_the_same_trial_folder()
    {
        var manifest = WithAlgorithm(Manifest(maxTrials: 9, parallelism: 3, name: "bracket"),
            "{name: hyperband, seed: 7, settings: {eta: 3, minBudget: 1, maxBudget: 9}}\n  budget: {key: SOLVER.MAX_EPOCH}");
        var (code, stdout, stderr) = CliRunner.Run(Env("fidelity"), Tune(manifest));
        Assert.True(code == 0, stderr + stdout);

        // One bracket of eta 3 over 1..9: nine trials at 1, the best three go on to 3, the best of those to 9.
        var trials = Trials(SweepJson());
        Assert.Equal(9, trials.Count);
        double F(JsonObject t) => Math.Pow((double)t["params"]!["SOLVER.BASE_LR"]! - 0.3, 2) + Math.Pow((double)t["params"]!["SOLVER.MOMENTUM"]! - 0.7, 2);
        var ranked = trials.OrderBy(F).Select(t => (int)t["id"]!).ToList();
        var budgets = trials.ToDictionary(t => (int)t["id"]!, t => File.ReadAllLines(Path.Combine(_dir, "sweep", "trials", TrialFolder((int)t["id"]!), "budgets.txt")));
        Assert.Equal(["1", "3", "9"], budgets[ranked[0]]);
        Assert.All(ranked.Skip(1).Take(2), id => Assert.Equal(["1", "3"], budgets[id]));
        Assert.All(ranked.Skip(3), id => Assert.Equal(["1"], budgets[id]));

        // each promotion kept the result of the budget before it; the best is the one trial at 9 epochs
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "sweep", "trials", TrialFolder(ranked[0]), "trial.json")))!;
        Assert.Equal([1.0, 3.0, 9.0], record["results"]!.AsArray().Select(r => (double)r!["budget"]!));
        var sweep = SweepJson();
        Assert.Equal(ranked[0], (int)sweep["best"]!["id"]!);
        Assert.Equal(9.0, (double)sweep["best"]!["budget"]!);
        Assert.Equal(F(trials[ranked[0]]) + 1.0 / 9, Objective(sweep["best"]!.AsObject()), 9);
        Assert.Equal(6 * 1 + 2 * 3 + 9, (double)sweep["budgetSpent"]!);
    }

    [Fact]
    public void The_median_rule_stops_trials_whose_readings_fall_behind_and_keeps_their_readings()
    {
        var manifest = WithAlgorithm(Manifest(maxTrials: 12, parallelism: 1, name: "median"),
            "{name: median, seed: 7, settings: {medianStopping: {gracePeriod: 1, minTrials: 3}}}");
        var (code, stdout, stderr) = CliRunner.Run(Env("median"), Tune(manifest));
        Assert.True(code == 0, stderr + stdout);

        var trials = Trials(SweepJson());
        Assert.Equal(12, trials.Count);
        var stopped = trials.Where(t => (string?)t["status"] == "Stopped").ToList();
        Assert.NotEmpty(stopped); // random draws on a quadratic: some fall behind the median of those before them
        Assert.All(trials.Take(3), t => Assert.Equal("Succeeded", (string?)t["status"])); // minTrials: nothing to compare the first three with
        double F(JsonObject t) => Math.Pow((double)t["params"]!["SOLVER.BASE_LR"]! - 0.3, 2) + Math.Pow((double)t["params"]!["SOLVER.MOMENTUM"]! - 0.7, 2);
        foreach (var t in stopped)
        {
            Assert.Contains("stopped early by median", (string?)t["message"]);
            // it was stopped before its final line (no result), and kept the readings it reported: the function plus the gap left
            var record = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "sweep", "trials", TrialFolder((int)t["id"]!), "trial.json")))!;
            Assert.Empty(record["results"]!.AsArray());
            var readings = record["readings"]!.AsArray();
            Assert.InRange(readings.Count, 1, 5);
            Assert.All(readings, r => Assert.Equal(F(t) + 0.02 * (5 - (double)r!["step"]!), (double)r!["loss"]!, 9));
        }
        // the best is a trial that ran to the end, and stopping never cut one better than it
        var best = SweepJson()["best"]!.AsObject();
        Assert.Equal("Succeeded", (string?)trials[(int)best["id"]!]["status"]);
        Assert.All(stopped, t => Assert.True(F(t) > Objective(best), $"trial {t["id"]} (f = {F(t)}) was stopped though it beats the best {Objective(best)}"));
    }

    /// <summary>The manifest at <paramref name="path"/> with another algorithm line (and whatever follows it); returns the path.</summary>
    private static string WithAlgorithm(string path, string algorithm)
    {
        const string random = "algorithm: {name: random, seed: 7}";
        var text = File.ReadAllText(path);
        Assert.Contains(random, text);
        File.WriteAllText(path, text.Replace(random, "algorithm: " + algorithm, StringComparison.Ordinal));
        return path;
    }

    private static string TrialFolder(int id) => id.ToString("D4", CultureInfo.InvariantCulture);

    [Fact]
    public void A_failing_or_garbage_printing_command_is_a_failed_trial_and_too_many_fail_the_sweep()
    {
        var (code, stdout, stderr) = CliRunner.Run(Env("fail"), Tune(Manifest(maxTrials: 6, parallelism: 1, maxFailedTrials: 1)));
        Assert.True(code == 1, $"expected exit 1, got {code}: {stderr}{stdout}");

        var sweep = SweepJson();
        var trials = Trials(sweep);
        Assert.Equal(2, trials.Count); // the second failure is one more than maxFailedTrials: nothing more starts
        Assert.Equal("Failed", (string?)trials[0]["status"]);
        Assert.Equal("the trial command exited with code 3: boom: no GPU here", (string?)trials[0]["message"]);
        Assert.Equal("Failed", (string?)trials[1]["status"]);
        Assert.Equal("printed not json at all instead of {\"objective\": NUMBER}", (string?)trials[1]["message"]);
        Assert.Equal("Failed", (string?)sweep["phase"]);
        Assert.Equal("TooManyFailedTrials", (string?)sweep["outcome"]!["reason"]);
        Assert.Contains("sweep failed (TooManyFailedTrials)", stdout);
        // what the command wrote stays in its folder
        Assert.Contains("boom: no GPU here", File.ReadAllText(Path.Combine(_dir, "sweep", "trials", "0000", "stderr.log")));
        Assert.Contains("not json at all", File.ReadAllText(Path.Combine(_dir, "sweep", "trials", "0001", "stdout.log")));
    }

    [Fact]
    public void Parallelism_runs_that_many_trials_at_once_and_no_more()
    {
        // the manifest says 1; --parallelism 2 overrides it (with 1 the pairs would never meet and time out)
        var (code, stdout, stderr) = CliRunner.Run(Env("overlap"), Tune(Manifest(maxTrials: 4, parallelism: 1), "--parallelism", "2"));
        Assert.True(code == 0, stderr + stdout);
        var intervals = Enumerable.Range(0, 4).Select(i => File.ReadAllText(Path.Combine(Shared, $"{i}.times")).Split(' ')
            .Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray()).ToList();
        Assert.True(intervals[0][0] < intervals[1][1] && intervals[1][0] < intervals[0][1], "trials 0 and 1 did not overlap");
        Assert.True(intervals[2][0] < intervals[3][1] && intervals[3][0] < intervals[2][1], "trials 2 and 3 did not overlap");
        // never three at once: at each start, at most one other trial was running
        foreach (var a in intervals)
            Assert.True(intervals.Count(b => b[0] <= a[0] && a[0] < b[1]) <= 2, "more than 2 trials ran at once");
    }

    [Fact]
    public void A_sigkilled_tuner_resumes_without_rerunning_finished_trials_and_ends_the_orphaned_one()
    {
        var manifest = Manifest(maxTrials: 4, parallelism: 1);
        var attempted = Path.Combine(_dir, "sweep", "trials", "0002", "attempted");
        using (var tuner = CliRunner.Start(Env("resume"), Tune(manifest)))
        {
            _ = tuner.StandardOutput.ReadToEndAsync();
            _ = tuner.StandardError.ReadToEndAsync();
            CliRunner.WaitUntil(() => File.Exists(attempted) && File.ReadAllText(attempted).Length > 0, "trial 2 to start and block", TimeSpan.FromMinutes(2));
            tuner.Kill(); // SIGKILL: no clean-up of any kind
            tuner.WaitForExit();
        }
        int orphan = int.Parse(File.ReadAllText(attempted), CultureInfo.InvariantCulture);
        Assert.True(Alive(orphan), "the blocked trial should outlive the SIGKILLed tuner (that is what the rerun must clean up)");

        var (code, stdout, stderr) = CliRunner.Run(Env("resume"), Tune(manifest));
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("trial 2 was running when the tuner stopped: starting it again", stdout);
        Assert.Contains("2 trial(s) already finished", stdout);
        Assert.Equal([0, 1, 2, 2, 3], Runs()); // 0 and 1 kept, 2 run again, 3 new
        Assert.False(Alive(orphan), $"the first run's trial process {orphan} is still running");
        var trials = Trials(SweepJson());
        Assert.Equal(4, trials.Count);
        Assert.All(trials, t => Assert.Equal("Succeeded", (string?)t["status"]));
    }

    [Fact]
    public async Task Ctrl_c_stops_every_trial_process_and_leaves_the_trials_to_resume()
    {
        var manifest = Manifest(maxTrials: 2, parallelism: 2);
        // each trial: a shell with a background child, both recording their pids, then waiting
        var command = "sleep 600 & echo $! > child; echo $$ > pid; wait";
        string Pids(int id, string file) => Path.Combine(_dir, "sweep", "trials", $"000{id}", file);
        using var tuner = CliRunner.Start(Env(), ["tune", "-f", manifest, "--out", Path.Combine(_dir, "sweep"), "--trial-command", command]);
        var stdout = tuner.StandardOutput.ReadToEndAsync();
        var stderr = tuner.StandardError.ReadToEndAsync();
        CliRunner.WaitUntil(() => new[] { 0, 1 }.All(i => File.Exists(Pids(i, "pid")) && File.ReadAllText(Pids(i, "pid")).Trim().Length > 0
            && File.Exists(Pids(i, "child")) && File.ReadAllText(Pids(i, "child")).Trim().Length > 0), "both trials to start", TimeSpan.FromMinutes(1));
        var pids = new[] { 0, 1 }.SelectMany(i => new[] { Pids(i, "pid"), Pids(i, "child") })
            .Select(f => int.Parse(File.ReadAllText(f).Trim(), CultureInfo.InvariantCulture)).ToList();
        Assert.All(pids, p => Assert.True(Alive(p), $"process {p} should be running"));

        using (var kill = Process.Start("kill", ["-INT", tuner.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60))) await tuner.WaitForExitAsync(limit.Token);
        var (output, errors) = (await stdout, await stderr);
        Assert.True(tuner.ExitCode == 130, $"exit code {tuner.ExitCode}: {errors}{output}");
        Assert.Contains("stopping 2 trial(s)", output);
        CliRunner.WaitUntil(() => pids.All(p => !Alive(p)), "every trial process and its child to be gone", TimeSpan.FromSeconds(10));
        // the trials stay running in their records, for the next run to start again
        var sweep = SweepJson();
        Assert.Equal("Stopped", (string?)sweep["phase"]);
        Assert.All(Trials(sweep), t => Assert.Equal("Running", (string?)t["status"]));
    }

    [Fact]
    public void A_changed_manifest_is_refused_for_the_same_folder()
    {
        var (code, stdout, stderr) = CliRunner.Run(Env(), Tune(Manifest(maxTrials: 2, parallelism: 2)));
        Assert.True(code == 0, stderr + stdout);
        // parallelism changes how many run at once, not which: the same folder continues
        (code, stdout, stderr) = CliRunner.Run(Env(), Tune(Manifest(maxTrials: 2, parallelism: 1)));
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("2 trial(s) already finished", stdout);

        (code, stdout, stderr) = CliRunner.Run(Env(), Tune(Manifest(maxTrials: 2, parallelism: 2, seed: 8)));
        Assert.Equal(1, code);
        Assert.Contains("holds a sweep of another manifest", stderr);
        Assert.Contains("Give another --out", stderr);
        Assert.Equal([0, 1], Runs());
    }

    [Theory]
    [InlineData("  maxTrails: 3", "spec.maxTrails", "could not be mapped")]
    [InlineData("  budget: {key: SOLVER.MAX_EPOCH}\n  validation: {identityFraction: 1.5}", "spec.validation.identityFraction", "must be in (0, 1)")]
    public void A_bad_manifest_names_the_file_and_the_field(string extra, string field, string message)
    {
        var manifest = Manifest(maxTrials: 2, parallelism: 1, extra: extra);
        var (code, stdout, stderr) = CliRunner.Run(Env(), Tune(manifest));
        Assert.True(code == 1, $"expected exit 1, got {code}: {stderr}{stdout}");
        Assert.Contains($"{manifest}: {field}: ", stderr);
        Assert.Contains(message, stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "sweep")), "nothing is started for an invalid manifest");
    }

    [Fact]
    public void A_pvc_dataset_is_refused_on_one_machine_with_what_to_give_instead()
    {
        var manifest = Manifest(maxTrials: 2, parallelism: 1);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("{name: Synthetic}", "{name: Market1501, uri: \"pvc://datasets/market\"}", StringComparison.Ordinal));
        var (code, stdout, stderr) = CliRunner.Run(Env(), Tune(manifest));
        Assert.True(code == 1, $"expected exit 1, got {code}: {stderr}{stdout}");
        Assert.Contains($"{manifest}: spec.template.dataset.uri: 'pvc://datasets/market' names a PersistentVolumeClaim, which only a cluster mounts", stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "sweep")), "nothing is started for a manifest this machine cannot run");
    }

    [Fact]
    public void An_unknown_search_key_is_named_with_the_closest_one()
    {
        var manifest = Manifest(maxTrials: 2, parallelism: 1);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("SOLVER.MOMENTUM:", "SOLVER.MOMENTUMM:", StringComparison.Ordinal));
        var (code, _, stderr) = CliRunner.Run(Env(), Tune(manifest));
        Assert.Equal(1, code);
        Assert.Contains($"{manifest}: spec.searchSpace[\"SOLVER.MOMENTUMM\"]: 'SOLVER.MOMENTUMM' is not a FastReID config key (closest: SOLVER.MOMENTUM)", stderr);
    }

    [Fact]
    public void Usage_errors_exit_2()
    {
        Assert.Equal(2, CliRunner.Run(null, "tune").Code);
        Assert.Equal(2, CliRunner.Run(null, "tune", "-f", Manifest(2, 1), "--parallelism", "0").Code);
        Assert.Equal(2, CliRunner.Run(null, "tune", "-f", Manifest(2, 1), "--paralelism", "2").Code);
    }

    /// <summary>
    /// Real trials: `fastreid train` on a tiny Synthetic set written once into the sweep folder, the tuner SIGKILLed
    /// mid-training and rerun (the trial resumes its own checkpoint, as a promotion does), then the best
    /// configuration trained once more with validation off and scored on the test set.
    /// </summary>
    [Fact]
    public void Training_trials_resume_their_checkpoint_after_a_kill_and_the_best_is_scored_on_the_test_set()
    {
        var manifest = Path.Combine(_dir, "train.yaml");
        File.WriteAllText(manifest, """
            apiVersion: fastreid.io/v1alpha1
            kind: TuneSweep
            metadata:
              name: tiny-train
            spec:
              template:
                dataset:
                  name: Synthetic
                  synthetic: {identities: 16, trainImages: 8, cameras: 3, seed: 2}
                config:
                  MODEL:
                    DEVICE: cpu
                    BACKBONE: {DEPTH: 18x, WIDTH_MULT: 0.25, FEAT_DIM: 128, PRETRAIN: false}
                    LOSSES: {NAME: [CrossEntropyLoss, TripletLoss]}
                  INPUT: {SIZE_TRAIN: [64, 32], SIZE_TEST: [64, 32], PADDING: {ENABLED: true, SIZE: 2}}
                  DATALOADER: {SAMPLER_TRAIN: NaiveIdentitySampler, NUM_INSTANCE: 4}
                  SOLVER: {OPT: Adam, MAX_EPOCH: 2, IMS_PER_BATCH: 16, WARMUP_ITERS: 2, CHECKPOINT_PERIOD: 1, AMP: {ENABLED: false}}
                  TEST: {EVAL_PERIOD: 1, IMS_PER_BATCH: 64}
                  CUDNN_BENCHMARK: false
              searchSpace:
                SOLVER.BASE_LR: {type: loguniform, min: 1.0e-4, max: 1.0e-3}
              algorithm: {name: random, seed: 1}
              budget: {key: SOLVER.MAX_EPOCH}
              validation: {identityFraction: 0.25}
              parallelism: 1
              maxTrials: 2
              maxFailedTrials: 0
            """);
        var dir = Path.Combine(_dir, "sweep");
        var first = Path.Combine(dir, "trials", "0000");
        using (var tuner = CliRunner.Start(null, "tune", "-f", manifest, "--out", dir))
        {
            _ = tuner.StandardOutput.ReadToEndAsync();
            _ = tuner.StandardError.ReadToEndAsync();
            CliRunner.WaitUntil(() => ResumeTests.Checkpoints(first) >= 1 || tuner.HasExited, "trial 0's first checkpoint", TimeSpan.FromMinutes(4));
            Assert.False(tuner.HasExited, "the tuner ended before trial 0 wrote a checkpoint");
            tuner.Kill();
            tuner.WaitForExit();
        }

        var (code, stdout, stderr) = CliRunner.Run(null, "tune", "-f", manifest, "--out", dir);
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("trial 0 was running when the tuner stopped: starting it again from its checkpoint", stdout);
        Assert.Contains("resumed from checkpoint", File.ReadAllText(Path.Combine(first, "stdout.log")));

        var sweep = SweepJson();
        var trials = Trials(sweep);
        Assert.Equal(2, trials.Count);
        for (int i = 0; i < 2; i++)
        {
            var trialDir = Path.Combine(dir, "trials", $"000{i}");
            Assert.Equal("Succeeded", (string?)trials[i]["status"]);
            Assert.Equal(2.0, (double)trials[i]["budget"]!);
            // the objective is FastTune's score of the trial's own result
            var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(trialDir, "result.json")))!["metrics"]!;
            Assert.Equal(((double)metrics["mAP"]! + (double)metrics["rank1"]!) / 2, Objective(trials[i]), 12);
            var config = File.ReadAllText(Path.Combine(trialDir, "config.yaml"));
            Assert.Contains($"BASE_LR: {((double)trials[i]["params"]!["SOLVER.BASE_LR"]!).ToString("R", CultureInfo.InvariantCulture)}", config);
            Assert.Contains("IDENTITY_FRACTION: 0.25", config);
            Assert.Contains($"OUTPUT_DIR: '{trialDir}'", config);
        }
        Assert.Equal(4.0, (double)sweep["budgetSpent"]!);
        Assert.True(Directory.Exists(Path.Combine(dir, "data", "Market-1501-v15.09.15", "bounding_box_train")));

        // the best configuration, once more with every training identity, scored on the test set
        var best = sweep["best"]!.AsObject();
        var test = sweep["test"]!.AsObject();
        Assert.Equal((int)best["id"]!, (int)test["trial"]!);
        Assert.Equal("Succeeded", (string?)test["status"]);
        var bestConfig = File.ReadAllText(Path.Combine(dir, "best", "config.yaml"));
        Assert.Contains("IDENTITY_FRACTION: 0", bestConfig);
        Assert.DoesNotContain("IDENTITY_FRACTION: 0.25", bestConfig);
        var testMetrics = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "best", "result.json")))!["metrics"]!;
        Assert.True(JsonNode.DeepEquals(testMetrics, test["metrics"]), $"{test["metrics"]} in sweep.json, {testMetrics} in best/result.json");
        Assert.Contains("best configuration on the test set (validation off", stdout);
    }

    private static bool Alive(int pid)
    {
        try { return !File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart().StartsWith('Z'); }
        catch (IOException) { return false; }
    }
}
