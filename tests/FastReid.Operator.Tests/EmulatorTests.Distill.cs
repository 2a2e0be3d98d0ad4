using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Contracts;
using FastReid.Operator.Tests.Packaging;
using k8s;
using k8s.Models;

namespace FastReid.Operator.Tests;

/// <summary>DistillJobs through the operator host, the emulator and the real kubectl: teacher, then student.</summary>
public sealed partial class EmulatorTests
{
    private const string WeightsSha = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    private const string ConfigSha = "f9e8d7c6b5a4938271605f4e3d2c1b0af9e8d7c6b5a4938271605f4e3d2c1b0a";

    /// <summary>A DistillJob of one teacher (an experiment, or model and config by URI) and a one-node ResNet-18 student.</summary>
    private static string DistillManifest(string name, string teacher) => $$$"""
        apiVersion: fastreid.io/v1alpha1
        kind: DistillJob
        metadata: {name: {{{name}}}, namespace: team-a}
        spec:
          teachers:
            - {{{teacher}}}
          student:
            dataset: {name: Market1501, uri: s3://datasets/market1501}
            config:
              MODEL:
                BACKBONE: {DEPTH: 18x}
            resources: {nodes: 1}
            output: {uri: s3://models/{{{name}}}}
          kd: {temperature: 16, weight: 1.0, overhaul: {enabled: true}}
        """;

    private static string TeacherSpec(string name) => OneNode.Replace("models/drift", "models/" + name, StringComparison.Ordinal);

    private static string TrainingResult(string output, double map, bool digests) => new RunResult
    {
        Metrics = new ReidMetrics { MAP = map, Rank1 = map + 0.08 },
        Artefacts = new ResultArtefacts { Model = $"{output}/model_final.pth", Config = $"{output}/config.yaml" },
        Sha256 = digests ? new SortedDictionary<string, string> { ["config.yaml"] = ConfigSha, ["model_final.pth"] = WeightsSha } : null,
    }.ToJson();

    /// <summary>kubectl against the emulator, with a kubeconfig and cache of its own.</summary>
    private async Task<T> WithKubectl<T>(Func<Func<string[], Task<string>>, string, Task<T>> body)
    {
        var dir = Directory.CreateTempSubdirectory("distill-kubectl-").FullName;
        try
        {
            var kubeconfig = _kube.WriteKubeconfig(Path.Combine(dir, "kubeconfig"));
            return await body(args => Repo.KubectlOk(kubeconfig, Path.Combine(dir, "cache"), args), dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Task<string> KubectlApply(Func<string[], Task<string>> kubectl, string dir, string manifest)
    {
        var file = Path.Combine(dir, $"manifest-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, manifest);
        return kubectl(["apply", "--validate=strict", "-f", file]);
    }

    private Task<DistillJob> ReadDistill(string name) => Read<DistillJob>("distilljobs", name);

    private async Task<JsonObject?> StudentOf(string distillJob) =>
        Kube.KubernetesClusterApi.ToJsonObject(await _client.CustomObjects.ListNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, "team-a", "reidexperiments",
            labelSelector: "fastreid.io/distilljob=" + distillJob))["items"]!.AsArray().SingleOrDefault()?.AsObject();

    private async Task<V1Pod> PendingPodOf(string experiment) =>
        await Eventually(async () => (await _client.CoreV1.ListNamespacedPodAsync("team-a", labelSelector: "fastreid.io/experiment=" + experiment)).Items
            .FirstOrDefault(p => p.Status?.Phase is null or "Pending"), $"a pod of {experiment}");

    private async Task<List<Corev1Event>> EventsOf(string kind, string name, string waitFor) =>
        await Eventually(async () =>
        {
            var list = (await _client.CoreV1.ListNamespacedEventAsync("team-a")).Items.Where(e => e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name).ToList();
            return list.Any(e => e.Reason == waitFor) ? list : null;
        }, $"the {waitFor} event of {kind} {name}");

    [Fact]
    public async Task A_distill_job_applied_before_its_teacher_waits_then_trains_the_student_and_kubectl_shows_the_gain()
    {
        const string dj = "r101-to-r18", teacher = "r101", student = "r101-to-r18-student";
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, DistillManifest(dj, $"experimentRef: {{name: {teacher}}}"));
            var waiting = await Eventually(async () => Conditions.Find((await ReadDistill(dj)).Status?.Conditions, ConditionTypes.TeachersReady), "TeachersReady");
            Assert.Equal(("False", "TeacherNotFound"), (waiting.Status, waiting.Reason));
            Assert.Contains($"ReidExperiment {teacher} does not exist", waiting.Message);
            Assert.Equal(Phases.Pending, (await ReadDistill(dj)).Status!.Phase);

            // The teacher appears (a watch on it wakes the DistillJob) and trains; nothing is made until it has succeeded.
            await Apply(teacher, TeacherSpec(teacher));
            await Eventually(async () => Conditions.Find((await ReadDistill(dj)).Status?.Conditions, ConditionTypes.TeachersReady) is { Reason: "TeacherNotReady" } c ? c : null, "TeacherNotReady");
            Assert.Null(await StudentOf(dj));
            _kube.Kubelet.Finish("team-a", (await PendingPodOf(teacher)).Metadata.Name, 0, TrainingResult($"s3://models/{teacher}", 0.8114, digests: true));

            var child = await Eventually(() => StudentOf(dj), "the student ReidExperiment");
            Assert.Equal(student, child["metadata"]!["name"]!.GetValue<string>());
            var owner = Assert.Single(child["metadata"]!["ownerReferences"]!.AsArray())!;
            Assert.Equal(("DistillJob", dj, true, true), (owner["kind"]!.GetValue<string>(), owner["name"]!.GetValue<string>(), owner["controller"]!.GetValue<bool>(), owner["blockOwnerDeletion"]!.GetValue<bool>()));
            var config = child["spec"]!["config"]!;
            Assert.Equal("DistillerOverhaul", config["MODEL"]!["META_ARCHITECTURE"]!.GetValue<string>());
            Assert.Equal("18x", config["MODEL"]!["BACKBONE"]!["DEPTH"]!.GetValue<string>());
            Assert.Equal($"[\"s3://models/{teacher}/model_final.pth\"]", config["KD"]!["MODEL_WEIGHTS"]!.ToJsonString());
            Assert.Equal($"[\"s3://models/{teacher}/config.yaml\"]", config["KD"]!["MODEL_CONFIG"]!.ToJsonString());
            Assert.Equal($"[\"{WeightsSha}\"]", config["KD"]!["MODEL_WEIGHTS_SHA256"]!.ToJsonString());
            Assert.Equal($"[\"{ConfigSha}\"]", config["KD"]!["MODEL_CONFIG_SHA256"]!.ToJsonString());

            // The student's own controller runs it; the digests reach the config its pod reads.
            var pod = await PendingPodOf(student);
            var run = pod.Metadata.Labels["fastreid.io/run"];
            Assert.Contains(WeightsSha, (await _client.CoreV1.ReadNamespacedConfigMapAsync(run, "team-a")).Data["config.yaml"]);
            _kube.Kubelet.Start("team-a", pod.Metadata.Name);
            await Eventually(async () => (await ReadDistill(dj)).Status?.Phase == Phases.Running ? "" : null, "the DistillJob Running");
            _kube.Kubelet.Finish("team-a", pod.Metadata.Name, 0, TrainingResult($"s3://models/{dj}", 0.778, digests: true));

            var done = await Eventually(async () => await ReadDistill(dj) is { Status.Phase: Phases.Succeeded } d ? d : null, "the DistillJob Succeeded");
            Assert.Equal((student, 0.778, 0.8114, -3.34), (done.Status!.StudentExperiment, done.Status.Metrics!.MAP, done.Status.TeacherMAP, done.Status.Gain));
            Assert.Equal($"s3://models/{dj}/model_final.pth", done.Status.Artefacts!.Model);
            var pinned = Assert.Single(done.Status.Teachers!);
            Assert.Equal((teacher, WeightsSha, ConfigSha, 0.8114), (pinned.Experiment, pinned.ModelSha256, pinned.ConfigSha256, pinned.Metrics!.MAP));
            Assert.Contains("-3.34 mAP points against the best teacher", Conditions.Find(done.Status.Conditions, ConditionTypes.Succeeded)!.Message);

            var lines = (await kubectl(["get", "dj", "-n", "team-a"])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["NAME", "PHASE", "TEACHER-MAP", "STUDENT-MAP", "GAIN", "AGE"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal([dj, "Succeeded", "0.8114", "0.778", "-3.34"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..5]);

            var reasons = (await EventsOf("DistillJob", dj, "Succeeded")).Select(e => e.Reason).ToList();
            Assert.Equal(1, reasons.Count(r => r == "StudentCreated"));
            Assert.Contains("TeacherNotFound", reasons);
            Assert.Contains("TeacherNotReady", reasons);
            return "";
        });
    }

    [Fact]
    public async Task A_failing_teacher_fails_the_distill_job_with_the_teachers_message()
    {
        const string dj = "bad-teacher-kd", teacher = "bad-teacher";
        await Apply(teacher, TeacherSpec(teacher));
        await Create("DistillJob", "distilljobs", dj, $$$"""
            {"teachers":[{"experimentRef":{"name":"{{{teacher}}}"}}],
             "student":{"dataset":{"name":"Market1501","uri":"s3://datasets/market1501"},"output":{"uri":"s3://models/{{{dj}}}"}}
            }
            """);
        await Eventually(async () => Conditions.Find((await ReadDistill(dj)).Status?.Conditions, ConditionTypes.TeachersReady) is { Reason: "TeacherNotReady" } c ? c : null, "TeacherNotReady");

        // A usage error ends the teacher's Job at once (podFailurePolicy FailJob), in the trainer's words.
        _kube.Kubelet.Finish("team-a", (await PendingPodOf(teacher)).Metadata.Name, 2, "fastreid train: MODEL.BACKBONE.DEPTH: '18y' is not one of: 18x, 34x, 50x");
        var failed = await Eventually(async () => await ReadDistill(dj) is { Status.Phase: Phases.Failed } d ? d : null, "the DistillJob Failed");
        var condition = Conditions.Find(failed.Status!.Conditions, ConditionTypes.Failed)!;
        Assert.Equal("TeacherFailed", condition.Reason);
        Assert.StartsWith($"ReidExperiment {teacher} failed: ", condition.Message);
        Assert.Contains("'18y' is not one of", condition.Message);
        Assert.Equal("TeacherFailed", Conditions.Find(failed.Status.Conditions, ConditionTypes.TeachersReady)!.Reason);
        var warning = Assert.Single(await EventsOf("DistillJob", dj, "TeacherFailed"), e => e.Reason == "TeacherFailed");
        Assert.Equal(("Warning", condition.Message), (warning.Type, warning.Message));
        await _kube.WaitForControllersAsync();
        Assert.Null(await StudentOf(dj));
    }

    [Fact]
    public async Task A_spec_change_updates_the_student_in_place_and_deleting_the_distill_job_removes_the_student_and_its_job()
    {
        const string dj = "uri-kd", student = "uri-kd-student";
        await WithKubectl(async (kubectl, dir) =>
        {
            await KubectlApply(kubectl, dir, DistillManifest(dj, "{modelUri: s3://zoo/r101/model_final.pth, configUri: s3://zoo/r101/config.yaml}"));
            var child = await Eventually(() => StudentOf(dj), "the student ReidExperiment");
            Assert.Equal("[\"\"]", child["spec"]!["config"]!["KD"]!["MODEL_WEIGHTS_SHA256"]!.ToJsonString()); // a URI teacher's digest is not known
            var job = await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=" + student)).Items.SingleOrDefault(), "the student's Job");

            // A new generation of the DistillJob: the student's spec is updated in place (same object, its own next generation).
            await KubectlApply(kubectl, dir, DistillManifest(dj, "{modelUri: s3://zoo/r101/model_final.pth, configUri: s3://zoo/r101/config.yaml}")
                .Replace("temperature: 16", "temperature: 4", StringComparison.Ordinal));
            var updated = await Eventually(async () => await StudentOf(dj) is { } s && s["spec"]!["config"]!["KD"]!["TEMPERATURE"]!.GetValue<double>() == 4 ? s : null, "the student updated");
            Assert.Equal(child["metadata"]!["uid"]!.GetValue<string>(), updated["metadata"]!["uid"]!.GetValue<string>());
            Assert.Equal(2, updated["metadata"]!["generation"]!.GetValue<long>());
            var spec = (await EventsOf("DistillJob", dj, "SpecChanged")).First(e => e.Reason == "SpecChanged");
            Assert.Contains("only the student retrains", spec.Message);
            await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=" + student)).Items
                .SingleOrDefault(j => j.Metadata.Name != job.Metadata.Name && j.Metadata.DeletionTimestamp is null), "the student's new Job");

            // Owner references take the student, and with it its Job, when the DistillJob goes.
            await kubectl(["delete", "dj", dj, "-n", "team-a"]);
            await Eventually(async () => await StudentOf(dj) is null ? "" : null, "the student removed");
            await Eventually(async () => (await _client.BatchV1.ListNamespacedJobAsync("team-a", labelSelector: "fastreid.io/experiment=" + student)).Items.Count == 0 ? "" : null, "the student's Jobs removed");
            return "";
        });
    }
}
