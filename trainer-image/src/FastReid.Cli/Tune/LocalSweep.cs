using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Cli.Launch;
using FastReid.Contracts;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Tune;
using FastReid.Storage;

namespace FastReid.Cli.Tune;

/// <summary>How a local sweep runs: its folder, the parallelism override, and the black-box command (null: trials train).</summary>
internal sealed record LocalSweepOptions(string Dir, int? Parallelism, string? TrialCommand);

/// <summary>
/// <c>fastreid tune</c>: the TuneSweep controller's loop on one machine. Stateless like the controller: before
/// every decision the trials are rebuilt from <c>DIR/trials/*/trial.json</c>, <see cref="SweepSearch.Decide"/>
/// says what to start, promote and stop, and this class makes it so with local processes, until an outcome.
/// <list type="bullet">
/// <item>A rerun continues: finished trials are kept; a trial that was running when the tuner died is started
/// again (a training trial resumes its checkpoint) after what was left of its process is ended.</item>
/// <item>A manifest changed since the folder was started is refused: its trials were chosen and scored under
/// other rules, and mixing them into the new search would mislead it (the operator starts a new generation; here
/// the user picks another --out).</item>
/// <item>SIGINT/SIGTERM stops every trial process (their groups: nothing is left running); the trials stay
/// Running in their records, so the next run resumes them.</item>
/// </list>
/// </summary>
internal sealed class LocalSweep
{
    private const string SpecFile = "sweep-spec.json";
    private static readonly TimeSpan Grace = WorkerLauncher.DefaultGrace;

    private readonly SweepManifest _manifest;
    private readonly TuneSweepSpec _spec;
    private readonly LocalSweepOptions _options;
    private readonly string _trialsDir;
    private readonly TextWriter _out;
    private readonly ProgressTable _table;
    private readonly Dictionary<int, TrialProcess> _running = [];
    private readonly HashSet<int> _stopping = [];
    /// <summary>Per running trial, how many of its readings came from earlier rungs (the rest are re-read from this rung's stdout).</summary>
    private readonly Dictionary<int, int> _readingsBefore = [];
    /// <summary>How often running black-box trials' readings are read when the algorithm stops trials on them.</summary>
    private static readonly TimeSpan ReadingsPoll = TimeSpan.FromSeconds(1);
    private List<TrialRecord> _records = [];
    private Dictionary<string, string> _datasetEnv = [];
    private double _templateBudget;

    private bool Training => _options.TrialCommand is null;

    public LocalSweep(SweepManifest manifest, LocalSweepOptions options, TextWriter output, bool terminal)
    {
        _manifest = manifest;
        _spec = manifest.Sweep.Spec;
        _options = options;
        _trialsDir = Path.Combine(options.Dir, "trials");
        _out = output;
        _table = new ProgressTable(output, terminal);
    }

    /// <summary>Runs the sweep to its outcome (0 when it succeeded) or until <paramref name="stop"/> (then <paramref name="stoppedCode"/>).</summary>
    public async Task<int> RunAsync(CancellationToken stop, Func<int> stoppedCode)
    {
        Prepare();
        var stopped = Task.Delay(Timeout.Infinite, stop).ContinueWith(_ => { }, TaskScheduler.Default);
        _records = TrialRecord.LoadAll(_trialsDir);
        _out.WriteLine($"sweep {_manifest.Sweep.Metadata.Name} in {_options.Dir}: {_manifest.Algorithm.Name}, parallelism {_spec.Parallelism}, " +
            $"maxTrials {_spec.MaxTrials}, {_records.Count(r => r.State != TrialState.Running)} trial(s) already finished");
        _table.Header();
        foreach (var record in _records.Where(r => r.State == TrialState.Running))
        {
            if (record.Pid is { } pid && record.ProcessStart is { } start) await TrialProcess.EndLeftoversAsync(pid, start);
            _out.WriteLine($"trial {record.Id} was running when the tuner stopped: starting it again{(Training ? " from its checkpoint" : "")}");
            // the rung starts over, and so do its readings (those of the budgets it finished stay)
            double finished = record.Results.Count > 0 ? record.Results[^1].Budget : 0;
            record.Readings.RemoveAll(r => r.Step > finished);
            Launch(record, resume: true);
        }

        SweepDecision decision;
        while (true)
        {
            decision = SweepSearch.Decide(_spec, _manifest.Algorithm, [.. _records.Select(r => r.ToView())]);
            foreach (var id in decision.Stop)
                if (_running.TryGetValue(id, out var process) && _stopping.Add(id)) _ = process.StopAsync(Grace);
            foreach (var promotion in decision.Promote)
            {
                var record = _records[promotion.TrialId];
                record.Budget = promotion.Budget;
                record.Attempts = 0;
                Launch(record, resume: true);
            }
            foreach (var (id, suggestion) in decision.Start)
            {
                var record = new TrialRecord
                {
                    Id = id, Params = suggestion.Params.ToJson(), Bracket = suggestion.Bracket,
                    Budget = suggestion.Budget > 0 ? suggestion.Budget : _templateBudget,
                };
                _records.Add(record);
                Launch(record, resume: false);
            }
            Report(decision, test: null);
            if (_running.Count == 0) break;

            // Readings only matter to an early-stopping rule; then the loop also wakes to read them.
            await Task.WhenAny([.. _running.Values.Select(p => p.Exited), stopped, ReadsReadings ? Task.Delay(ReadingsPoll, stop) : stopped]);
            if (stop.IsCancellationRequested) return await Interrupted(stoppedCode());
            foreach (var (id, process) in _running) ReadReadings(_records[id], process);
            foreach (var (id, process) in _running.Where(p => p.Value.Exited.IsCompleted).ToList())
            {
                _running.Remove(id);
                Finish(_records[id], process);
            }
        }

        var outcome = decision.Outcome!;
        FinalTest? test = null;
        if (outcome.Succeeded && decision.Best is { } best && Training)
        {
            test = await TestBest(_records[best.Id], stop);
            if (stop.IsCancellationRequested) return await Interrupted(stoppedCode());
        }
        Report(decision, test);
        Summary(outcome, decision.Best, test);
        return outcome.Succeeded && test?.Status is null or RunResult.Succeeded ? 0 : 1;
    }

    /// <summary>The folder, the manifest check against an earlier run's, the dataset and the template's budget.</summary>
    private void Prepare()
    {
        Directory.CreateDirectory(_trialsDir);
        var json = JsonNode.Parse(ApiJson.Serialize(_spec))!.AsObject();
        json.Remove("parallelism"); // changes how many trials run at once, not which
        var identity = new JsonObject
        {
            ["specDigest"] = ExperimentNames.SpecDigest(null, json),
            ["trialCommand"] = _options.TrialCommand,
        };
        var specPath = Path.Combine(_options.Dir, SpecFile);
        if (File.Exists(specPath))
        {
            var earlier = JsonNode.Parse(File.ReadAllText(specPath))!.AsObject();
            if ((string?)earlier["specDigest"] != (string?)identity["specDigest"])
                throw new FastReidException($"{_options.Dir} holds a sweep of another manifest (spec digest {earlier["specDigest"]}, {_manifest.Path} now has " +
                    $"{identity["specDigest"]}): its trials were chosen and scored under other rules. Give another --out, or remove {_options.Dir} to start over");
            if ((string?)earlier["trialCommand"] != _options.TrialCommand)
                throw new FastReidException($"{_options.Dir} was started with " +
                    (earlier["trialCommand"] is null ? "training trials" : $"--trial-command '{earlier["trialCommand"]}'") +
                    $", not {(_options.TrialCommand is null ? "training trials" : $"--trial-command '{_options.TrialCommand}'")}; give another --out, or remove {_options.Dir} to start over");
        }
        else
        {
            identity["manifest"] = Path.GetFullPath(_manifest.Path);
            identity["spec"] = JsonNode.Parse(ApiJson.Serialize(_spec));
            AtomicFile.WriteAllText(specPath, identity.ToJsonString(TuneJson.Options));
        }
        _templateBudget = TrialConfig.TemplateBudget(_spec);
        if (Training) _datasetEnv = TrialConfig.DatasetEnv(_spec.Template.Dataset, Path.Combine(_options.Dir, "data"), _out.WriteLine);
    }

    private string Folder(int id) => Path.Combine(_trialsDir, TrialRecord.FolderName(id));

    private void Launch(TrialRecord record, bool resume)
    {
        var folder = Directory.CreateDirectory(Folder(record.Id)).FullName;
        var (file, args, env) = Training
            ? TrainingRun(folder, TrialParams.FromJson(record.Params), record.Budget, _spec.Validation.IdentityFraction, resume)
            : CommandRun(folder, record);
        var process = TrialProcess.Start(folder, file, args, env);
        _running[record.Id] = process;
        _readingsBefore[record.Id] = record.Readings.Count;
        record.State = TrialState.Running;
        record.Attempts++;
        record.Pid = process.Pid;
        record.ProcessStart = process.StartTicks;
        record.StartedAt = DateTimeOffset.UtcNow;
        record.FinishedAt = null;
        record.Message = null;
        record.Save(_trialsDir);
    }

    /// <summary><c>fastreid train</c> (this executable) on the rung's rendered config, with the trial folder as OUTPUT_DIR.</summary>
    private (string File, List<string> Args, Dictionary<string, string> Env) TrainingRun(string folder, TrialParams values, double budget, double identityFraction, bool resume)
    {
        var config = Path.Combine(folder, "config.yaml");
        AtomicFile.WriteAllText(config, TrialConfig.Render(_spec, values, budget, folder, identityFraction));
        File.Delete(Path.Combine(folder, "result.json")); // an earlier rung's result is not this one's
        var (self, prefix) = WorkerLauncher.SelfCommand();
        var env = new Dictionary<string, string>(_datasetEnv)
        {
            ["FASTREID_RESULT_FILE"] = Path.Combine(folder, "result.json"),
            // one process per trial, and it exits when this tuner is gone (its stdin pipe closes)
            [WorkerEnvironment.LauncherPidVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
        return (self, [.. prefix, "train", "--config", config, .. resume ? new[] { "--resume" } : []], env);
    }

    /// <summary>The user's command through <c>/bin/sh -c</c>, with the trial contract's variables.</summary>
    private (string File, List<string> Args, Dictionary<string, string> Env) CommandRun(string folder, TrialRecord record) =>
        ("/bin/sh", ["-c", _options.TrialCommand!], new()
        {
            ["FASTREID_TRIAL_PARAMS"] = TrialParams.FromJson(record.Params).ToString(),
            ["FASTREID_TRIAL_BUDGET"] = record.Budget.ToString("R", CultureInfo.InvariantCulture),
            ["FASTREID_TRIAL_ID"] = record.Id.ToString(CultureInfo.InvariantCulture),
            ["FASTREID_TRIAL_DIR"] = folder,
        });

    /// <summary>Whether readings are read: black-box trials under an algorithm with the median-stopping rule (training trials report none yet).</summary>
    private bool ReadsReadings => !Training && (_spec.Algorithm.Name == "median" || _spec.Algorithm.Settings?.MedianStopping is not null);

    /// <summary>
    /// The rung's readings so far: every stdout line before the last that is <c>{"objective": NUMBER, "step": NUMBER}</c>
    /// (the step in budget units), after the readings of earlier rungs. Other lines are the command's own output.
    /// </summary>
    private void ReadReadings(TrialRecord record, TrialProcess process)
    {
        if (!ReadsReadings) return;
        var readings = record.Readings.Take(_readingsBefore.GetValueOrDefault(record.Id)).ToList();
        foreach (var line in process.Lines(Folder(record.Id), stderr: false))
        {
            if (!line.StartsWith('{')) continue;
            try
            {
                if (JsonNode.Parse(line) is JsonObject o && o["step"] is JsonValue step && o["objective"] is JsonValue value
                    && step.GetValueKind() == JsonValueKind.Number && value.GetValueKind() == JsonValueKind.Number
                    && value.GetValue<double>() is var x && double.IsFinite(x))
                    readings.Add(new Reading(step.GetValue<double>(), SweepSearch.Loss(x, _spec.Objective)));
            }
            catch (JsonException) { }
        }
        if (readings.Count != record.Readings.Count)
        {
            record.Readings = readings;
            record.Save(_trialsDir);
        }
    }

    /// <summary>Records how a rung ended: its objective, or the failure with a message, or the early stop.</summary>
    private void Finish(TrialRecord record, TrialProcess process)
    {
        var folder = Folder(record.Id);
        process.KillGroup(); // what the trial left running in the background ends with it
        ReadReadings(record, process);
        if (_stopping.Remove(record.Id))
        {
            record.State = TrialState.Stopped;
            record.Message = $"stopped early by {_manifest.Algorithm.Name}";
        }
        else
        {
            var (objective, metrics, failure) = Training ? TrainingResult(folder, process) : CommandResult(folder, process);
            if (failure is not null)
            {
                record.State = TrialState.Failed;
                record.Message = failure;
            }
            else
            {
                record.State = TrialState.Succeeded;
                record.Results.Add(new RungRecord(record.Budget, SweepSearch.Loss(objective!.Value, _spec.Objective), objective.Value));
                record.Metrics = metrics;
            }
        }
        record.Pid = null;
        record.ProcessStart = null;
        record.FinishedAt = DateTimeOffset.UtcNow;
        record.Save(_trialsDir);
        process.Dispose();
        _table.Row(record);
    }

    private (double? Objective, ReidMetrics? Metrics, string? Failure) TrainingResult(string folder, TrialProcess process)
    {
        if (process.ExitCode != 0) return (null, null, ExitFailure("fastreid train", folder, process));
        var path = Path.Combine(folder, "result.json");
        var result = RunResult.TryParse(File.Exists(path) ? File.ReadAllText(path) : null, "the trial's trainer", out var error);
        if (result is null) return (null, null, error);
        var metric = _spec.Objective.Metric;
        return SweepSearch.Objective(result.Metrics, metric) is { } objective
            ? (objective, result.Metrics, null)
            : (null, result.Metrics, $"result.json has no {metric} to score the trial by");
    }

    /// <summary>The trial contract: exit 0 and a last stdout line <c>{"objective": NUMBER}</c>.</summary>
    private static (double? Objective, ReidMetrics? Metrics, string? Failure) CommandResult(string folder, TrialProcess process)
    {
        if (process.ExitCode != 0) return (null, null, ExitFailure("the trial command", folder, process));
        var last = process.Lines(folder, stderr: false).LastOrDefault();
        const string expected = "{\"objective\": NUMBER}";
        if (last is null) return (null, null, $"printed nothing instead of {expected}");
        try
        {
            if (JsonNode.Parse(last) is JsonObject { } line && line["objective"] is JsonValue value
                && value.GetValueKind() == JsonValueKind.Number && value.GetValue<double>() is var x && double.IsFinite(x))
                return (x, null, null);
        }
        catch (JsonException) { }
        return (null, null, $"printed {RunResult.Truncate(last, 200)} instead of {expected}");
    }

    private static string ExitFailure(string what, string folder, TrialProcess process)
    {
        var lastError = process.Lines(folder, stderr: true).LastOrDefault();
        return $"{what} exited with code {process.ExitCode}" + (lastError is null ? "" : $": {RunResult.Truncate(lastError.Trim(), 300)}");
    }

    /// <summary>
    /// The best configuration once more, as <c>DIR/best/</c>: validation off (every training identity), the best
    /// trial's budget, scored on the real test set. Reused when an earlier run of the tuner finished it.
    /// </summary>
    private async Task<FinalTest> TestBest(TrialRecord best, CancellationToken stop)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_options.Dir, "best")).FullName;
        var resultPath = Path.Combine(folder, "result.json");
        var markerPath = Path.Combine(folder, "best.json");
        var marker = new JsonObject { ["trial"] = best.Id, ["budget"] = best.Budget }.ToJsonString();
        bool same = File.Exists(markerPath) && File.ReadAllText(markerPath) == marker;
        if (!same || !File.Exists(resultPath))
        {
            if (!same)
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(folder))
                    if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true); else File.Delete(entry);
                AtomicFile.WriteAllText(markerPath, marker);
            }
            _out.WriteLine($"training the best configuration (trial {best.Id}, budget {best.Budget.ToString("0.###", CultureInfo.InvariantCulture)}) on every training identity, to score it on the test set: {folder}");
            var (file, args, env) = TrainingRun(folder, TrialParams.FromJson(best.Params), best.Budget, identityFraction: 0, resume: true);
            using var process = TrialProcess.Start(folder, file, args, env);
            await Task.WhenAny(process.Exited, Task.Delay(Timeout.Infinite, stop).ContinueWith(_ => { }, TaskScheduler.Default));
            if (stop.IsCancellationRequested)
            {
                await process.StopAsync(Grace);
                return new FinalTest(best.Id, best.Budget, folder, "Stopped", null, "stopped before it finished");
            }
            if (process.ExitCode != 0)
                return new FinalTest(best.Id, best.Budget, folder, "Failed", null, ExitFailure("fastreid train", folder, process));
        }
        var result = RunResult.TryParse(File.ReadAllText(resultPath), "the best configuration's trainer", out var error);
        return result is null
            ? new FinalTest(best.Id, best.Budget, folder, "Failed", null, error)
            : new FinalTest(best.Id, best.Budget, folder, RunResult.Succeeded, result.Metrics, null);
    }

    private async Task<int> Interrupted(int code)
    {
        _out.WriteLine($"stopping {_running.Count} trial(s); run the same command again to continue");
        await Task.WhenAll(_running.Values.Select(p => p.StopAsync(Grace)));
        foreach (var p in _running.Values) p.Dispose();
        _running.Clear();
        Report(null, null);
        return code;
    }

    private void Report(SweepDecision? decision, FinalTest? test)
    {
        var outcome = decision?.Outcome;
        var best = decision?.Best is { } b ? TrialSummary.Of(_records[b.Id]) : null;
        string phase = outcome is null ? (decision is null ? "Stopped" : "Running") : outcome.Succeeded ? "Succeeded" : "Failed";
        new SweepReport(_manifest.Sweep.Metadata.Name ?? "", _manifest.Algorithm.Name, _spec.Objective, phase, outcome, best,
            _records.Sum(r => r.Budget), [.. _records.Select(TrialSummary.Of)], test).Save(_options.Dir);
    }

    private void Summary(SweepOutcome outcome, TrialView? best, FinalTest? test)
    {
        _out.WriteLine();
        _out.WriteLine($"sweep {(outcome.Succeeded ? "succeeded" : "failed")} ({outcome.Reason}): {outcome.Message}");
        int failed = _records.Count(r => r.State == TrialState.Failed);
        _out.WriteLine($"  {_records.Count} trial(s), {failed} failed; budget spent {_records.Sum(r => r.Budget).ToString("0.###", CultureInfo.InvariantCulture)}");
        if (best is not null)
        {
            var record = _records[best.Id];
            var scored = Training ? $"{_spec.Objective.Metric} {Format(record.Objective)} on the validation split" : $"objective {Format(record.Objective)}";
            _out.WriteLine($"  best trial {record.Id}: {scored} at budget {record.Budget.ToString("0.###", CultureInfo.InvariantCulture)}, params {record.Params.ToJsonString()}");
        }
        if (test?.Metrics is { } m)
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  best configuration on the test set (validation off, {test.Dir}): mAP {m.MAP:0.0000}, rank1 {m.Rank1:0.0000}, rank5 {m.Rank5:0.0000}, mINP {m.MINP:0.0000}"));
        else if (test is not null)
            _out.WriteLine($"  the test-set run of the best configuration {test.Status}: {test.Message}");
        _out.WriteLine($"  {Path.Combine(_options.Dir, SweepReport.FileName)}");
    }

    private static string Format(double? value) => value?.ToString("0.0000", CultureInfo.InvariantCulture) ?? "-";
}
