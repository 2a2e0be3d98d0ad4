using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;

namespace FastReid.Cli.Tests;

/// <summary>
/// <c>fastreid pipeline run</c> and <c>fastreid pipeline status</c> as a user runs them: manifests of every kind with
/// tiny trainings (quarter-width ResNet-18 at 32x16 on a few synthetic identities), the runner killed and resumed,
/// stopped with Ctrl-C, and given manifests it must refuse.
/// </summary>
public sealed class PipelineRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-pipeline-").FullName;
    private string State => Path.Combine(_dir, "state");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A tiny experiment spec (indented for a document's <c>spec:</c>, or a DistillJob's <c>student:</c>).</summary>
    private static string Spec(int epochs, string indent = "  ", int identities = 8, string extra = "") => $"""
        dataset: {"{"}name: Synthetic, synthetic: {"{"}identities: {identities}, trainImages: 4, cameras: 2, seed: 2{"}"}{"}"}
        config:
          MODEL: {"{"}DEVICE: cpu, BACKBONE: {"{"}DEPTH: 18x, WIDTH_MULT: 0.25, FEAT_DIM: 128, PRETRAIN: false{"}"}{"}"}
          INPUT: {"{"}SIZE_TRAIN: [32, 16], SIZE_TEST: [32, 16]{"}"}
          DATALOADER: {"{"}NUM_WORKERS: 0{"}"}
          SOLVER: {"{"}IMS_PER_BATCH: 8, MAX_EPOCH: {epochs}, WARMUP_ITERS: 1, CHECKPOINT_PERIOD: 1{"}"}
          TEST: {"{"}EVAL_PERIOD: {epochs}{"}"}
        {extra}
        """.Replace("\n", "\n" + indent, StringComparison.Ordinal).Insert(0, indent);

    private static string Experiment(string name, int epochs) => $"""
        apiVersion: fastreid.io/v1alpha1
        kind: ReidExperiment
        metadata: {"{"}name: {name}{"}"}
        spec:
        {Spec(epochs)}
        """;

    /// <summary>A TuneSweep "sweep" of the tiny template over SOLVER.BASE_LR; <paramref name="rest"/>: more of its spec, indented by two.</summary>
    private static string Sweep(string rest) => $"""
        apiVersion: fastreid.io/v1alpha1
        kind: TuneSweep
        metadata: {"{"}name: sweep{"}"}
        spec:
          template:
        {Spec(1, "    ")}
          searchSpace:
            SOLVER.BASE_LR: {"{"}type: loguniform, min: 1.0e-4, max: 1.0e-2{"}"}
        {rest}
        """;

    private string Manifest(string name, params string[] documents)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, string.Join("\n---\n", documents));
        return path;
    }

    private (int Code, string Out, string Err) Pipeline(params string[] args) => CliRunner.Run(null, ["pipeline", .. args]);

    [Fact]
    public void Every_kind_runs_and_a_DistillJob_waits_for_its_teacher_from_the_same_file_and_a_rerun_redoes_nothing()
    {
        var distill = $"""
            apiVersion: fastreid.io/v1alpha1
            kind: DistillJob
            metadata: {"{"}name: kd{"}"}
            spec:
              teachers: [{"{"}experimentRef: {"{"}name: teacher{"}"}{"}"}]
              student:
            {Spec(1, "    ")}
            """;
        var export = """
            apiVersion: fastreid.io/v1alpha1
            kind: ExportJob
            metadata: {name: teacher-onnx}
            spec:
              source: {experimentRef: {name: teacher}}
              format: onnx
            """;
        var sweep = Sweep("""
              algorithm: {name: random, seed: 1}
              validation: {identityFraction: 0.5}
              parallelism: 2
              maxTrials: 2
              maxFailedTrials: 1
            """);
        // the DistillJob and the export come before the teacher they read
        var file = Manifest("all.yaml", distill, export, Experiment("teacher", 1), sweep);

        var (code, stdout, stderr) = Pipeline("run", "-f", file, "--state", State, "--parallel", "2");
        Assert.True(code == 0, $"exit {code}\n{stderr}{stdout}");
        int waited = stdout.IndexOf("DistillJob/kd: TeacherNotReady", StringComparison.Ordinal);
        int studentCreated = stdout.IndexOf("DistillJob/kd: StudentCreated", StringComparison.Ordinal);
        Assert.True(waited >= 0 && studentCreated > waited, $"the DistillJob did not wait for its teacher:\n{stdout}");
        Assert.True(File.Exists(Path.Combine(State, "outputs", "default", "teacher-onnx", "model.onnx")), stdout);

        var (statusCode, table, statusErr) = Pipeline("status", "--state", State);
        Assert.True(statusCode == 0, statusErr);
        foreach (var name in new[] { "teacher", "kd-student", "kd", "teacher-onnx", "sweep", "sweep-" })
            Assert.Matches($@"(?m)^{name}\S*\s+Succeeded\s", table);
        Assert.Contains("STUDENT-MAP", table);

        // the report at the end: every resource, the DistillJob's table, the sweep plots, the export's check, each run's ranked gallery
        var page = Path.Combine(State, "report", "report.html");
        Assert.Contains($"report: {page}", stdout);
        var html = File.ReadAllText(page);
        foreach (var heading in new[] { "<h2>Resources</h2>", "<h2>DistillJob kd</h2>", "<h2>TuneSweep sweep</h2>", "<h2>ExportJob teacher-onnx</h2>", "<h2>ReidExperiment teacher</h2>", "<h2>ReidExperiment kd-student</h2>" })
            Assert.Contains(heading, html);
        Assert.Contains("student, distilled", html);
        // a sweep's trials are its plots, not sections; its test-set run is a section
        Assert.Single(Regex.Matches(html, "<h2>ReidExperiment sweep-"));
        Assert.Matches("<h2>ReidExperiment sweep-[0-9a-f]{6}-test</h2>", html);
        var images = ReportTests.LoadedImages(Path.Combine(State, "report"), "pipeline-state-report.png");
        Assert.Contains(images, i => i.EndsWith("-objective.png", StringComparison.Ordinal));
        Assert.Contains(images, i => i.EndsWith("-param-SOLVER_BASE_LR.png", StringComparison.Ordinal));
        Assert.Contains(images, i => i.EndsWith("-verify.png", StringComparison.Ordinal));
        Assert.True(images.Count(i => i.EndsWith("-ranking.png", StringComparison.Ordinal)) >= 2, string.Join(", ", images));

        // finished work is kept: the same command again starts no pod
        var (again, rerun, rerunErr) = Pipeline("run", "-f", file, "--state", State);
        Assert.True(again == 0, $"exit {again}\n{rerunErr}{rerun}");
        Assert.DoesNotContain("started (logs in", rerun);
    }

    [Fact]
    public void A_runner_killed_by_SIGKILL_leaves_no_process_and_its_rerun_keeps_finished_work_and_resumes_the_training_from_its_checkpoint()
    {
        var file = Manifest("two.yaml", Experiment("first", 1), Experiment("long", 4));
        using (var runner = new RunnerProcess(["pipeline", "run", "-f", file, "--state", State]))
        {
            var checkpoints = Path.Combine(State, "outputs", "default", "long", "checkpoints");
            CliRunner.WaitUntil(() => Directory.Exists(checkpoints) && Directory.EnumerateFiles(checkpoints, "checkpoint.json", SearchOption.AllDirectories).Any(),
                "a checkpoint of the long training", TimeSpan.FromSeconds(90));
            var trainer = PodPid("long");
            runner.Kill(); // SIGKILL: no chance to stop anything
            CliRunner.WaitUntil(() => !Alive(trainer), $"the trainer (pid {trainer}) to end with its runner", TimeSpan.FromSeconds(30));
        }

        var (code, stdout, stderr) = Pipeline("run", "-f", file, "--state", State);
        Assert.True(code == 0, $"exit {code}\n{stderr}{stdout}");
        Assert.DoesNotContain("pod first-", stdout); // finished before the kill: not run again
        Assert.Contains("was running when the runner stopped", stdout);
        var logs = Directory.EnumerateFiles(Path.Combine(State, "pods"), "*.log", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(f))!).StartsWith("long-", StringComparison.Ordinal))
            .Select(File.ReadAllText);
        Assert.Contains(logs, log => log.Contains("resumed from checkpoint", StringComparison.Ordinal));
    }

    [Fact]
    public void A_running_training_shows_its_live_progress_then_Ctrl_C_stops_every_child_process_and_exits_130()
    {
        var file = Manifest("long.yaml", Experiment("long", 200));
        using var runner = new RunnerProcess(["pipeline", "run", "-f", file, "--state", State]);
        CliRunner.WaitUntil(() => TryPodPid("long") is { } pid && Alive(pid) && runner.Output.Contains("started (logs in", StringComparison.Ordinal),
            "the trainer's process", TimeSpan.FromSeconds(60));
        var trainer = PodPid("long");
        // the runner reads the trainer's metrics page as the operator does: a line of status.progress per reading
        var progress = new Regex(@"ReidExperiment/long: \d+% e\d+/200 · it \d+/\d+ · loss \d+\.\d{3} · \d+ img/s · ETA \S+");
        CliRunner.WaitUntil(() => progress.IsMatch(runner.Output), "a progress line read from the trainer's page", TimeSpan.FromSeconds(60));
        var (_, table, _) = Pipeline("status", "--state", State);
        Assert.Matches(@"(?m)^long\s+Running\s.*\s\d+% e\d+/200\s", table); // kubectl get's Progress column
        runner.Signal(2); // SIGINT, as Ctrl-C in a terminal
        Assert.True(runner.WaitForExit(TimeSpan.FromSeconds(60)), "the runner did not stop after SIGINT");
        Assert.Equal(130, runner.ExitCode);
        Assert.False(Alive(trainer), $"the trainer (pid {trainer}) outlived the runner's Ctrl-C");
        Assert.Empty(GroupMembers(trainer));
        Assert.Contains("run the same command again to continue", runner.Output);
    }

    [Fact]
    public void Broken_references_and_invalid_specs_are_refused_naming_the_file_and_document_before_anything_runs()
    {
        var file = Manifest("broken.yaml",
            $"""
            apiVersion: fastreid.io/v1alpha1
            kind: DistillJob
            metadata: {"{"}name: kd{"}"}
            spec:
              teachers: [{"{"}experimentRef: {"{"}name: no-such-teacher{"}"}{"}"}]
              student:
            {Spec(1, "    ")}
            """,
            """
            apiVersion: fastreid.io/v1alpha1
            kind: ExportJob
            metadata: {name: onnx}
            spec:
              source: {experimentRef: {name: no-such-source}}
              format: onnx
            """,
            Sweep("  maxTrials: 2"), // maxFailedTrials defaults to 3
            """
            apiVersion: fastreid.io/v1alpha1
            kind: ExportJob
            metadata: {name: student-onnx}
            spec:
              source: {experimentRef: {name: kd-student}}
            """);

        var (code, stdout, stderr) = Pipeline("run", "-f", file, "--state", State);
        Assert.Equal(1, code);
        Assert.Contains($"{file} (document 1, DistillJob/kd): spec.teachers[0].experimentRef.name: ReidExperiment 'no-such-teacher' is not in namespace default", stderr);
        Assert.Contains($"{file} (document 2, ExportJob/onnx): spec.source.experimentRef.name: ReidExperiment 'no-such-source' is not in namespace default", stderr);
        // a DistillJob's student is an experiment of the manifests too: exporting it is a reference that resolves
        Assert.DoesNotContain("'kd-student'", stderr);
        // the operator's own validation message (its InvalidSpec condition)
        Assert.Contains($"{file} (document 3, TuneSweep/sweep): spec.maxFailedTrials: must not exceed spec.maxTrials (2), got 3", stderr);
        Assert.DoesNotContain("started (logs in", stdout);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
    }

    private string? TryPodPid(string experiment)
    {
        var pods = Path.Combine(State, "objects", "Pod");
        if (!Directory.Exists(pods)) return null;
        foreach (var file in Directory.EnumerateFiles(pods, $"default.{experiment}-*.json"))
        {
            try
            {
                if (JsonNode.Parse(File.ReadAllText(file))?["metadata"]?["annotations"]?["fastreid.io/local-pid"] is JsonValue pid) return (string?)pid;
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { } // being replaced
        }
        return null;
    }

    private int PodPid(string experiment) => int.Parse(TryPodPid(experiment) ?? throw new InvalidOperationException($"no pod of {experiment} records a process"), CultureInfo.InvariantCulture);

    private static bool Alive(string pid) => Alive(int.Parse(pid, CultureInfo.InvariantCulture));

    private static bool Alive(int pid) => Stat(pid) is { } stat && stat.State != 'Z';

    /// <summary>Live processes of the process group <paramref name="pgid"/> (a pod's container is its group's leader).</summary>
    private static List<int> GroupMembers(int pgid) =>
        [.. Directory.EnumerateDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : -1)
            .Where(pid => pid > 0 && Stat(pid) is { State: not 'Z' } s && s.Group == pgid)];

    private static (char State, int Group)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[2], CultureInfo.InvariantCulture));
        }
        catch (IOException) { return null; }
    }

    /// <summary>The runner started in the background, its output collected as it comes.</summary>
    private sealed class RunnerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        public RunnerProcess(string[] args)
        {
            _process = CliRunner.Start(null, args);
            _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Output { get { lock (_output) return _output.ToString(); } }

        public int ExitCode => _process.ExitCode;

        public void Kill()
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit();
        }

        public void Signal(int signal) => Assert.Equal(0, kill(_process.Id, signal));

        public bool WaitForExit(TimeSpan within)
        {
            if (!_process.WaitForExit(within)) return false;
            _process.WaitForExit(); // the output's last lines
            return true;
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int kill(int pid, int signal);
    }
}
