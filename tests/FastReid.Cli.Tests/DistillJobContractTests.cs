using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Core.Tests.Storage;
using FastReid.Pipeline;
using FastReid.Pipeline.Distill;
using FastReid.Pipeline.Experiments;
using FastReid.Storage;

namespace FastReid.Cli.Tests;

/// <summary>
/// A teacher ReidExperiment on s3rver, planned, its pod run by the real trainer and its result fed back: the status
/// its planner records (artefacts and their sha256), as a DistillJob reads it. Trained once for the tests that
/// distil from it.
/// </summary>
public sealed class PlannedTeacher : IAsyncLifetime
{
    public S3rverFixture S3 { get; } = new();
    public string Dir { get; } = Directory.CreateTempSubdirectory("cli-kd-contract-").FullName;
    public ReidExperiment Experiment { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await S3.InitializeAsync();
        var bucket = await S3.CreateBucketAsync("teacher");
        Experiment = new ReidExperiment
        {
            Metadata = new ObjectMeta { Name = "teacher", Namespace = DistillJobContractTests.Namespace, Uid = "uid-teacher", Generation = 1 },
            Spec = DistillJobContractTests.Spec(widthMult: 0.5, featDim: 256, DistillJobContractTests.Output(S3, $"s3://{bucket}/teacher")),
        };
        var (run, done) = DistillJobContractTests.Train(Experiment, DistillJobContractTests.T0, Path.Combine(Dir, "teacher"));
        if (run.ExitCode != 0 || done.Status.Phase != Phases.Succeeded)
            throw new InvalidOperationException($"the teacher's pod: exit {run.ExitCode}, phase {done.Status.Phase}\n{run.Stderr}{run.Stdout}");
        Experiment.Status = done.Status;
    }

    public async Task DisposeAsync()
    {
        await S3.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>
/// The two sides of the DistillJob contract meet: the student ReidExperiment the DistillJob planner makes from a
/// teacher's status (its URIs and sha256 digests in the student's KD keys) is planned, and its pod is run by the real
/// trainer against s3rver, which checks those digests on the teacher's files before training; the student's end, fed
/// back through both planners, is the DistillJob's status.
/// </summary>
public sealed class DistillJobContractTests(PlannedTeacher teacher) : IClassFixture<PlannedTeacher>
{
    internal const string Namespace = "team-a";
    internal static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    private ReidExperiment Teacher => teacher.Experiment;
    private S3rverFixture S3 => teacher.S3;

    /// <summary>The tiny experiment of these tests (synthetic 16 identities, quarter- or half-width ResNet-18, 64x32, 2 epochs) on the CPU.</summary>
    internal static ReidExperimentSpec Spec(double widthMult, int featDim, OutputSpec output) => new()
    {
        Dataset = new DatasetSpec { Name = "Synthetic", Synthetic = new SyntheticDatasetSpec { Identities = 16, TrainImages = 8, Cameras = 3, Seed = 2 } },
        Config = new JsonObject
        {
            ["MODEL"] = new JsonObject
            {
                ["DEVICE"] = "cpu",
                ["BACKBONE"] = new JsonObject { ["DEPTH"] = "18x", ["WIDTH_MULT"] = widthMult, ["FEAT_DIM"] = featDim, ["PRETRAIN"] = false },
            },
            ["INPUT"] = new JsonObject { ["SIZE_TRAIN"] = new JsonArray(64, 32), ["SIZE_TEST"] = new JsonArray(64, 32) },
            ["DATALOADER"] = new JsonObject { ["NUM_WORKERS"] = 1 },
            ["SOLVER"] = new JsonObject { ["IMS_PER_BATCH"] = 16, ["MAX_EPOCH"] = 2, ["WARMUP_ITERS"] = 2 },
            ["TEST"] = new JsonObject { ["EVAL_PERIOD"] = 2 },
        },
        Output = output,
    };

    /// <summary>An output on s3rver, its credentials by Secret reference.</summary>
    internal static OutputSpec Output(S3rverFixture s3, string uri) =>
        new() { Uri = uri, Endpoint = s3.Endpoint.ToString(), Region = "us-east-1", SecretRef = new SecretReference { Name = "s3" } };

    /// <summary>An experiment planned at <paramref name="at"/>, its one pod run here, and the status its planner gives once that pod ended.</summary>
    internal static (PodRun Run, Plan<ReidExperimentStatus> Done) Train(ReidExperiment experiment, DateTimeOffset at, string dir)
    {
        var first = ReidExperimentPlanner.Plan(experiment, ObservedChildren.None(at));
        var pods = PlannedPods.Of(first.Actions, dir);
        var run = pods.Run();
        var pod = pods.Finish(run, at, at.AddMinutes(1));
        experiment.Status = first.Status;
        return (run, ReidExperimentPlanner.Plan(experiment, ObservedChildren.None(at.AddMinutes(2)).With([pods.Job]).With([pod])));
    }

    private DistillJob DistillJob(string name, OutputSpec studentOutput, int backoffLimit = 3)
    {
        var student = Spec(widthMult: 0.25, featDim: 128, studentOutput);
        student.RunPolicy.BackoffLimit = backoffLimit;
        return new DistillJob
        {
            Metadata = new ObjectMeta { Name = name, Namespace = Namespace, Uid = "uid-" + name, Generation = 1 },
            Spec = new DistillJobSpec
            {
                Teachers = [new ModelSource { ExperimentRef = new LocalObjectReference { Name = Teacher.Metadata.Name! } }],
                Student = student,
                Kd = new KdSpec { Overhaul = new OverhaulSpec { Enabled = true } },
            },
        };
    }

    /// <summary>The student the DistillJob planner creates, as the API server stores it (uid, generation 1).</summary>
    private ReidExperiment CreatedStudent(Plan<DistillJobStatus> plan)
    {
        var student = (ReidExperiment)Assert.Single(plan.Actions.OfType<CreateChild>()).Object;
        student.Metadata.Uid = "uid-" + student.Metadata.Name;
        student.Metadata.Generation = 1;
        return student;
    }

    /// <summary>The ReidExperiments by name, as the DistillJob controller reads them.</summary>
    private static Func<string, ReidExperiment?> World(params ReidExperiment[] experiments) =>
        name => experiments.FirstOrDefault(e => e.Metadata.Name == name);

    private async Task<byte[]> DownloadAsync(string uri, string local)
    {
        var slash = uri.LastIndexOf('/');
        using var storage = new S3Storage(StorageUri.Parse(uri[..slash]), S3.Settings);
        await storage.GetFileAsync(uri[(slash + 1)..], local);
        return File.ReadAllBytes(local);
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string KdDigest(ReidExperiment student, string key) =>
        Assert.Single(student.Spec.Config!["KD"]![key]!.AsArray())!.GetValue<string>();

    [Fact]
    public async Task The_student_pod_accepts_the_teacher_digests_the_operator_passed_and_its_result_becomes_the_distill_jobs_status()
    {
        var bucket = await S3.CreateBucketAsync("student");
        var job = DistillJob("kd", Output(S3, $"s3://{bucket}/student"));
        var first = DistillJobPlanner.Plan(job, ObservedChildren.None(T0.AddMinutes(3)), World(Teacher));
        var student = CreatedStudent(first);

        // the digests the operator passes are those of the teacher's files as they lie on S3
        var dir = Path.Combine(teacher.Dir, "kd");
        Directory.CreateDirectory(dir);
        var artefacts = Teacher.Status!.Artefacts!;
        Assert.Equal(Sha256(await DownloadAsync(artefacts.Model!, Path.Combine(dir, "teacher.pth"))), KdDigest(student, "MODEL_WEIGHTS_SHA256"));
        Assert.Equal(Sha256(await DownloadAsync(artefacts.Config!, Path.Combine(dir, "teacher.yaml"))), KdDigest(student, "MODEL_CONFIG_SHA256"));
        Assert.Equal(DistillStudent.DistillerOverhaul, student.Spec.Config?["MODEL"]?["META_ARCHITECTURE"]?.GetValue<string>());

        var (run, trained) = Train(student, T0.AddMinutes(4), Path.Combine(dir, "student"));
        Assert.True(run.ExitCode == 0, $"the student's pod: exit {run.ExitCode}\n{run.Stderr}{run.Stdout}");
        Assert.Contains("teacher 0: loaded", run.Stdout);
        Assert.Equal(Phases.Succeeded, trained.Status.Phase);
        student.Status = trained.Status;

        job.Status = first.Status;
        var done = DistillJobPlanner.Plan(job, ObservedChildren.None(T0.AddMinutes(7)).With([student]), World(Teacher, student));
        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        var metrics = JsonDocument.Parse(await DownloadAsync($"s3://{bucket}/student/metrics.json", Path.Combine(dir, "metrics.json"))).RootElement;
        double studentMap = metrics.GetProperty("mAP").GetDouble(), teacherMap = Teacher.Status.Metrics!.MAP!.Value;
        Assert.Equal(studentMap, done.Status.Metrics!.MAP!.Value, 6);
        Assert.Equal(teacherMap, done.Status.TeacherMAP);
        Assert.Equal(Math.Round((done.Status.Metrics.MAP.Value - teacherMap) * 100, 2), done.Status.Gain);
        Assert.Equal($"s3://{bucket}/student/model_final.pth", done.Status.Artefacts!.Model);
        Assert.Equal(artefacts.Sha256!["model_final.pth"], Assert.Single(done.Status.Teachers!).ModelSha256);
    }

    [Fact]
    public async Task A_teacher_overwritten_after_its_status_was_taken_fails_the_student_pod_and_the_distill_job_in_the_trainers_words()
    {
        var bucket = await S3.CreateBucketAsync("student");
        // the default backoffLimit: the mismatch's exit code (2) fails the Job on its first pod, by its podFailurePolicy
        var job = DistillJob("kd-changed", Output(S3, $"s3://{bucket}/student"));
        var first = DistillJobPlanner.Plan(job, ObservedChildren.None(T0.AddMinutes(3)), World(Teacher));
        var student = CreatedStudent(first);
        var pinned = KdDigest(student, "MODEL_WEIGHTS_SHA256");
        Assert.Equal(Teacher.Status!.Artefacts!.Sha256!["model_final.pth"], pinned);

        var dir = Path.Combine(teacher.Dir, "kd-changed");
        Directory.CreateDirectory(dir);
        var model = Teacher.Status.Artefacts.Model!;
        var original = await DownloadAsync(model, Path.Combine(dir, "teacher.pth"));
        var changed = (byte[])original.Clone();
        changed[^1] ^= 0xff;
        using var teacherRun = new S3Storage(StorageUri.Parse(model[..model.LastIndexOf('/')]), S3.Settings);
        (PodRun Run, Plan<ReidExperimentStatus> Done) trained;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "changed.pth"), changed);
            await teacherRun.PutFileAsync(Path.Combine(dir, "changed.pth"), "model_final.pth");
            trained = Train(student, T0.AddMinutes(4), Path.Combine(dir, "student"));
        }
        finally
        {
            await teacherRun.PutFileAsync(Path.Combine(dir, "teacher.pth"), "model_final.pth"); // the other tests distil from it
        }

        var run = trained.Run;
        Assert.True(run.ExitCode == 2, $"the student's pod: exit {run.ExitCode} (2: a retry cannot help)\n{run.Stderr}{run.Stdout}");
        var said = $"KD.MODEL_WEIGHTS[0] '{model}' has sha256 {Sha256(changed)} but KD.MODEL_WEIGHTS_SHA256[0] expects {pinned}";
        Assert.Contains(said, run.Stderr);
        using (var studentRun = new S3Storage(StorageUri.Parse($"s3://{bucket}/student"), S3.Settings))
            Assert.DoesNotContain("model_final.pth", (await studentRun.ListAsync()).Select(o => o.Key));

        // the trainer writes no result on an error: the pod's message is the kubelet's fallback, its log's tail, which ends in those words
        Assert.EndsWith(run.Stderr, run.TerminationMessage);

        Assert.Equal(Phases.Failed, trained.Done.Status.Phase);
        student.Status = trained.Done.Status;
        job.Status = first.Status;
        var done = DistillJobPlanner.Plan(job, ObservedChildren.None(T0.AddMinutes(7)).With([student]), World(Teacher, student));
        Assert.Equal(Phases.Failed, done.Status.Phase);
        var failed = Conditions.Find(done.Status.Conditions, ConditionTypes.Failed);
        Assert.NotNull(failed);
        Assert.StartsWith($"student {student.Metadata.Name}: ", failed.Message);
        // the status keeps the end of the pod's message, where the error is: the key, the file and both digests
        Assert.Contains($"fastreid train: error: {said}", failed.Message);
    }
}
