using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Controllers;
using FastReid.Operator.Hosting;
using FastReid.Pipeline.Tune;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>TuneSweeps through the operator host, the emulator and the real kubectl: trials as child ReidExperiments.</summary>
public sealed partial class EmulatorTests
{
    private static string SweepManifest(string name, int maxTrials, string algorithm = "{name: random, seed: 3}", string extraSpace = "") => $$$"""
        apiVersion: fastreid.io/v1alpha1
        kind: TuneSweep
        metadata: {name: {{{name}}}, namespace: team-a}
        spec:
          template:
            dataset: {name: Market1501, uri: s3://datasets/market1501}
            config:
              SOLVER: {MAX_EPOCH: 2}
            resources: {nodes: 1}
            output: {uri: s3://models/{{{name}}}}
          searchSpace:
            SOLVER.BASE_LR: {type: loguniform, min: 1.0e-5, max: 1.0e-3}
            DATALOADER.NUM_INSTANCE: {type: choice, values: [2, 4, 8]}{{{extraSpace}}}
          algorithm: {{{algorithm}}}
          budget: {key: SOLVER.MAX_EPOCH}
          validation: {identityFraction: 0.25}
          parallelism: 3
          maxTrials: {{{maxTrials}}}
          maxFailedTrials: 1
        """;

    private Task<TuneSweep> ReadSweep(string name) => Read<TuneSweep>("tunesweeps", name);

    /// <summary>The sweep's child ReidExperiments (trials and test run), by name.</summary>
    private async Task<List<JsonObject>> ChildrenOfSweep(string sweep) =>
        [.. Kube.KubernetesClusterApi.ToJsonObject(await _client.CustomObjects.ListNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, "team-a", "reidexperiments",
            labelSelector: "fastreid.io/sweep=" + sweep))["items"]!.AsArray().Select(i => i!.AsObject())
            .OrderBy(i => i["metadata"]!["name"]!.GetValue<string>(), StringComparer.Ordinal)];

    private async Task<List<string>> TrialsOf(string sweep, int count) =>
        await Eventually(async () => (await ChildrenOfSweep(sweep)).Select(c => c["metadata"]!["name"]!.GetValue<string>()).Where(n => !n.EndsWith("-test", StringComparison.Ordinal)).ToList()
            is { } names && names.Count == count ? names : null, $"{count} trials of {sweep}");

    private async Task<V1Job> ActiveJobOf(string experiment) =>
        await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=" + experiment)).Items
            .SingleOrDefault(j => j.Metadata.DeletionTimestamp is null && j.Status?.Succeeded is null or 0 && j.Status?.Failed is null or 0), $"the active Job of {experiment}");

    private static string RunIdOf(V1Job job) => job.Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == "FASTREID_RUN_ID").Value;

    private static string Result(double map, double rank1) =>
        new Contracts.RunResult { Metrics = new ReidMetrics { MAP = map, Rank1 = rank1 } }.ToJson();

    /// <summary>An operator of its own (the class's is stopped), for a scripted algorithm or a restart.</summary>
    private (Task<int> Running, CancellationTokenSource Stop) StartOperator(string identity, params IControllerDefinition[] controllers)
    {
        var options = OperatorOptions.Parse(["--metrics-port", "0", "--leader-elect=false", "--identity", identity], _ => null);
        var stop = new CancellationTokenSource();
        return (new OperatorHost(options, _client, NullLoggerFactory.Instance, controllers).RunAsync(stop.Token), stop);
    }

    private static async Task StopOperator((Task<int> Running, CancellationTokenSource Stop) host)
    {
        await host.Stop.CancelAsync();
        Assert.Equal(0, await host.Running);
        host.Stop.Dispose();
    }

    [Fact]
    public async Task A_bohb_sweep_runs_three_trials_at_once_survives_a_restart_promotes_the_best_with_resume_and_scores_it_on_the_test_set()
    {
        const string sweep = "lr-sweep";
        await _stop.CancelAsync();
        Assert.Equal(0, await _running);
        var host = StartOperator("op-sweep", ReidExperimentController.Definition, TuneSweepController.Definition);
        try
        {
            await WithKubectl(async (kubectl, dir) =>
            {
                // BOHB with eta 3 over budgets 1..3: one bracket of three trials at 1 epoch, the best third promoted to 3.
                await KubectlApply(kubectl, dir, SweepManifest(sweep, maxTrials: 3, algorithm: "{name: bohb, seed: 3, settings: {eta: 3, minBudget: 1, maxBudget: 3}}"));
                var trials = await TrialsOf(sweep, 3);
                var jobs = new List<V1Job>();
                foreach (var trial in trials) jobs.Add(await ActiveJobOf(trial));
                foreach (var job in jobs)
                    Assert.Contains("MAX_EPOCH: 1", (await _client.CoreV1.ReadNamespacedConfigMapAsync(job.Metadata.Name, "team-a")).Data["config.yaml"]);

                // An operator restart mid-sweep plans from the children and the same names: no trial is made twice.
                await StopOperator(host);
                host = StartOperator("op-sweep-2", ReidExperimentController.Definition, TuneSweepController.Definition);
                await Eventually(async () => (await ReadSweep(sweep)).Status?.Trials?.Count == 3 ? "" : null, "the sweep status after the restart");
                await _kube.WaitForControllersAsync();
                Assert.Equal(trials, await TrialsOf(sweep, 3));

                double[] maps = [0.50, 0.75, 0.60];
                for (int i = 0; i < 3; i++)
                    _kube.Kubelet.Finish("team-a", (await PendingPodOf(trials[i])).Metadata.Name, 0, Result(maps[i], maps[i] + 0.125));

                // Trial 1 is the best at 1 epoch: promoted in place to 3, its new Job resumes the same run.
                var promotedJob = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=" + trials[1])).Items
                    .SingleOrDefault(j => j.Metadata.Name != jobs[1].Metadata.Name && j.Metadata.DeletionTimestamp is null), "the promoted trial's new Job");
                Assert.Equal(RunIdOf(jobs[1]), RunIdOf(promotedJob));
                var config = (await _client.CoreV1.ReadNamespacedConfigMapAsync(promotedJob.Metadata.Name, "team-a")).Data["config.yaml"];
                Assert.Contains("MAX_EPOCH: 3", config);
                Assert.Contains("RESUME: 'auto'", config);
                Assert.Contains("IDENTITY_FRACTION: 0.25", config);
                // The sweep writes its status after the child it promoted: wait for it rather than race it.
                var running = await Eventually(async () => await ReadSweep(sweep) is { Status.Trials: [_, { Budget: 3.0 }, _] } s ? s : null, "the sweep status showing the promotion");
                Assert.Equal(3.0, running.Status!.Trials![1].Budget);
                Assert.Equal(Phases.Running, running.Status.Phase);

                _kube.Kubelet.Finish("team-a", (await PendingPodOf(trials[1])).Metadata.Name, 0, Result(0.8125, 0.9375));
                var test = await Eventually(async () => (await ChildrenOfSweep(sweep)).FirstOrDefault(c => c["metadata"]!["name"]!.GetValue<string>().EndsWith("-test", StringComparison.Ordinal)), "the test-set run");
                var testName = test["metadata"]!["name"]!.GetValue<string>();
                Assert.Equal(0.0, test["spec"]!["config"]!["DATASETS"]!["VALIDATION"]!["IDENTITY_FRACTION"]!.GetValue<double>());
                Assert.Equal(3, test["spec"]!["config"]!["SOLVER"]!["MAX_EPOCH"]!.GetValue<int>());
                _kube.Kubelet.Finish("team-a", (await PendingPodOf(testName)).Metadata.Name, 0, Result(0.75, 0.875));

                var done = await Eventually(async () => await ReadSweep(sweep) is { Status.Phase: Phases.Succeeded } s ? s : null, "the sweep Succeeded");
                var best = done.Status!.BestTrial!;
                Assert.Equal((trials[1], 3.0, 0.875, testName, 0.8125), (best.Name, best.Budget, best.Objective, best.TestExperiment, best.TestObjective));
                Assert.Equal([1.0, 3.0], done.Status.Trials![1].Results!.Select(r => r.Budget));
                Assert.Equal(3, done.Status.TrialsCompleted);
                Assert.Equal(3, (await TrialsOf(sweep, 3)).Count);

                var lines = (await kubectl(["get", "sweep", "-n", "team-a"])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal(["NAME", "PHASE", "BEST", "TRIALS", "AGE"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
                Assert.Equal([sweep, "Succeeded", "0.875", "3"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);
                var reasons = (await EventsOf("TuneSweep", sweep, "Succeeded")).Select(e => e.Reason).ToList();
                Assert.Equal(3, reasons.Count(r => r == "TrialCreated"));
                Assert.Equal(1, reasons.Count(r => r == "TrialPromoted"));
                Assert.Contains("TestRunCreated", reasons);
                return "";
            });
        }
        finally
        {
            await StopOperator(host);
        }
    }

    [Fact]
    public async Task Deleting_a_sweep_mid_way_removes_its_running_trials_and_their_jobs()
    {
        const string sweep = "doomed-sweep";
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, SweepManifest(sweep, maxTrials: 6));
            var trials = await TrialsOf(sweep, 3);
            foreach (var trial in trials) await ActiveJobOf(trial);
            _kube.Kubelet.Finish("team-a", (await PendingPodOf(trials[0])).Metadata.Name, 0, Result(0.5, 0.625));
            await TrialsOf(sweep, 4);

            await kubectl(["delete", "sweep", sweep, "-n", "team-a"]);
            await Eventually(async () => (await ChildrenOfSweep(sweep)).Count == 0 ? "" : null, "the trials removed");
            await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a")).Items.Count == 0 ? "" : null, "the trials' Jobs removed");
            return "";
        });
    }

    [Fact]
    public async Task A_trial_deleted_by_hand_is_failed_not_recreated_and_the_sweep_goes_on()
    {
        const string sweep = "hand-sweep";
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, SweepManifest(sweep, maxTrials: 4));
            var trials = await TrialsOf(sweep, 3);
            await Eventually(async () => (await ReadSweep(sweep)).Status?.Trials?.Count == 3 ? "" : null, "three trials in the status");
            await kubectl(["delete", "rexp", trials[1], "-n", "team-a"]);

            var failed = await Eventually(async () => (await ReadSweep(sweep)).Status?.Trials?.ElementAtOrDefault(1) is { Phase: Phases.Failed } t ? t : null, "the deleted trial Failed");
            Assert.Contains("deleted while it ran", failed.Message);
            var now = await TrialsOf(sweep, 3); // trial 1 gone, trial 3 started in its slot
            Assert.DoesNotContain(trials[1], now);
            Assert.EndsWith("-3", now[^1]);
            var message = await kubectl(["get", "sweep", sweep, "-n", "team-a", "-o", "jsonpath={.status.trials[1].message}"]);
            Assert.Contains("counts as failed and is not recreated", message);
            Assert.Equal(Phases.Running, (await ReadSweep(sweep)).Status!.Phase);
            return "";
        });
    }

    [Fact]
    public async Task A_bad_search_space_or_an_unknown_algorithm_setting_is_invalid_spec_that_kubectl_shows()
    {
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, SweepManifest("typo-sweep", maxTrials: 4, extraSpace: "\n    SOLVER.BASE_LRR: {type: uniform, min: 0.1, max: 0.2}"));
            await KubectlApply(kubectl, dir, SweepManifest("setting-sweep", maxTrials: 4, algorithm: "{name: random, seed: 3, settings: {maxBudgt: 9}}"));
            foreach (var (name, expected) in new[] { ("typo-sweep", "spec.searchSpace[\"SOLVER.BASE_LRR\"]: 'SOLVER.BASE_LRR' is not a FastReID config key (closest: SOLVER.BASE_LR)"), ("setting-sweep", "spec.algorithm.settings.maxBudgt") })
            {
                await Eventually(async () => (await ReadSweep(name)).Status?.Phase == Phases.Failed ? "" : null, $"{name} Failed");
                var message = await kubectl(["get", "sweep", name, "-n", "team-a", "-o", "jsonpath={.status.conditions[?(@.type==\"InvalidSpec\")].message}"]);
                Assert.Contains(expected, message);
                await EventsOf("TuneSweep", name, "InvalidSpec");
                Assert.Contains("InvalidSpec", await kubectl(["describe", "sweep", name, "-n", "team-a"]));
            }
            await _kube.WaitForControllersAsync();
            Assert.Empty(await ChildrenOfSweep("typo-sweep"));
            Assert.Empty(await ChildrenOfSweep("setting-sweep"));
            return "";
        });
    }
}
