using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Exports;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public sealed class ExportPlannerTests
{
    /// <summary>What the trainer's <c>fastreid export</c> writes to its termination message.</summary>
    private const string ExportResultJson = """
        {"status":"Succeeded","format":"onnx","artefacts":{"export":"s3://b/p/model.onnx","verify":"s3://b/p/verify.json"},
         "sha256":{"model.onnx":"ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"},
         "verify":{"passed":true,"tolerance":0.0001,"max_relative_error":1.2e-06,"max_abs_error":3.4e-06,"batch":"dynamic","opset":17,"onnxruntime":"1.31.1"}}
        """;

    private static ExportJob Export(ModelSource? source = null, string format = "onnx", long generation = 1) => new()
    {
        Metadata = new ObjectMeta { Name = "market-onnx", Namespace = "team-a", Uid = "e1-uid", Generation = generation },
        Spec = new ExportJobSpec
        {
            Source = source ?? new ModelSource { ExperimentRef = new LocalObjectReference { Name = "market-r50" } },
            Format = format,
            Output = new OutputSpec { Uri = "s3://b/p", Endpoint = "http://minio:9000", Region = "eu-1", SecretRef = new SecretReference { Name = "s3-creds" } },
        },
    };

    private static ReidExperiment Source(string? phase, bool artefacts = true)
    {
        var e = Experiment();
        e.Status = new ReidExperimentStatus
        {
            Phase = phase,
            Artefacts = artefacts ? new ArtefactsStatus { Model = "s3://models/market-r50/model.pt", Config = "s3://models/market-r50/config.yaml" } : null,
            Conditions = phase == Phases.Failed ? [new Condition { Type = ConditionTypes.Failed, Status = "True", Reason = "BackoffLimitExceeded", Message = "out of memory" }] : null,
        };
        return e;
    }

    private static Plan<ExportJobStatus> PlanOf(ExportJob job, ReidExperiment? source, ObservedChildren? observed = null, PlannerOptions? options = null) =>
        ExportJobPlanner.Plan(job, observed ?? ObservedChildren.None(T0), source, options);

    private static Condition Cond(Plan<ExportJobStatus> plan, string type) => Conditions.Find(plan.Status.Conditions, type)
        ?? throw new Xunit.Sdk.XunitException($"no {type} condition in [{string.Join(", ", plan.Status.Conditions?.Select(c => c.Type) ?? [])}]");

    private static V1Job CreatedJob(Plan<ExportJobStatus> plan) => (V1Job)Assert.Single(plan.Actions.OfType<CreateChild>()).Object;

    private static V1Pod ExportPod(string jobName, string phase, string? message = null, int exitCode = 0)
    {
        var pod = Pod(jobName, 0, phase, message, exitCode);
        pod.Metadata.Annotations = null; // a non-indexed Job's pod has no completion index
        pod.Metadata.Labels.Remove(ExperimentNames.CompletionIndexAnnotation);
        return pod;
    }

    /// <summary>A look after the Job was made, with the Job in the given state.</summary>
    private static ObservedChildren With(V1Job job, DateTimeOffset now, Action<V1Job> state, params V1Pod[] pods)
    {
        job.Status = new V1JobStatus();
        state(job);
        return ObservedChildren.None(now).With([job]).With(pods);
    }

    [Fact]
    public void Tensorrt_is_unsupported_with_a_clear_message_and_nothing_is_created()
    {
        var job = Export(format: "tensorrt");
        var plan = PlanOf(job, Source(Phases.Succeeded));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var unsupported = Cond(plan, ConditionTypes.Unsupported);
        Assert.Equal(("True", "FormatUnsupported"), (unsupported.Status, unsupported.Reason));
        Assert.Contains("format tensorrt is not supported yet", unsupported.Message);
        Assert.Contains("trtexec", unsupported.Message);
        var warning = Assert.Single(plan.Events);
        Assert.Equal((PlannedEvent.Warning, "FormatUnsupported"), (warning.Type, warning.Reason));

        var again = PlanOf(job.WithStatus(plan.Status), Source(Phases.Succeeded));
        Assert.Empty(again.Events); // the warning is said once
        Assert.False(StatusUpdates.Differs(plan.Status, again.Status));
    }

    [Fact]
    public void A_missing_source_experiment_is_waited_for()
    {
        var plan = PlanOf(Export(), null);
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        var ready = Cond(plan, ConditionTypes.SourceReady);
        Assert.Equal(("False", "SourceNotFound"), (ready.Status, ready.Reason));
        Assert.Contains("market-r50", ready.Message);
        Assert.Null(plan.RequeueAfter); // the operator looks again when the experiment appears
    }

    [Theory]
    [InlineData(null)]
    [InlineData(Phases.Pending)]
    [InlineData(Phases.Running)]
    public void A_source_still_training_is_waited_for(string? phase)
    {
        var plan = PlanOf(Export(), Source(phase));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Equal(("False", "SourceNotReady"), (Cond(plan, ConditionTypes.SourceReady).Status, Cond(plan, ConditionTypes.SourceReady).Reason));
    }

    [Fact]
    public void A_failed_source_fails_the_export_with_its_reason()
    {
        var plan = PlanOf(Export(), Source(Phases.Failed));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        var failed = Cond(plan, ConditionTypes.Failed);
        Assert.Equal("SourceFailed", failed.Reason);
        Assert.Contains("ReidExperiment market-r50 failed: out of memory", failed.Message);

        // Retried (a new generation of the experiment): the export waits again.
        var retried = PlanOf(Export().WithStatus(plan.Status), Source(Phases.Running));
        Assert.Equal(Phases.Pending, retried.Status.Phase);
        Assert.Null(Conditions.Find(retried.Status.Conditions, ConditionTypes.Failed));
    }

    [Fact]
    public void A_succeeded_source_without_artefacts_is_waited_for()
    {
        var plan = PlanOf(Export(), Source(Phases.Succeeded, artefacts: false));
        Assert.Empty(plan.Actions);
        Assert.Equal(("False", "SourceArtefactsMissing"), (Cond(plan, ConditionTypes.SourceReady).Status, Cond(plan, ConditionTypes.SourceReady).Reason));
        Assert.Contains("artefacts.model", Cond(plan, ConditionTypes.SourceReady).Message);
    }

    [Fact]
    public void A_succeeded_source_starts_one_export_job_with_the_trainer_contract()
    {
        var job = Export();
        job.Spec.Resources = new ExportResourcesSpec { Cpu = "2", Memory = "4Gi", Image = "reg/fastreid:1" };
        var plan = PlanOf(job, Source(Phases.Succeeded));
        Assert.Equal(Phases.Pending, plan.Status.Phase);
        Assert.Equal("True", Cond(plan, ConditionTypes.SourceReady).Status);
        Assert.Equal(("s3://models/market-r50/model.pt", "s3://models/market-r50/config.yaml"), (plan.Status.Source!.Model, plan.Status.Source.Config));
        var created = CreatedJob(plan);
        Assert.Equal(plan.Status.JobName, created.Metadata.Name);
        Assert.StartsWith("market-onnx-", created.Metadata.Name);
        Assert.Equal(ExportNames.JobName(job), created.Metadata.Name);
        var owner = Assert.Single(created.Metadata.OwnerReferences);
        Assert.Equal(("ExportJob", "market-onnx", "e1-uid", true), (owner.Kind, owner.Name, owner.Uid, owner.Controller));
        Assert.Equal("market-onnx", created.Metadata.Labels["fastreid.io/export"]);
        Assert.Equal(created.Metadata.Name, created.Metadata.Labels["fastreid.io/run"]);
        Assert.Equal("fastreid-operator", created.Metadata.Labels["app.kubernetes.io/managed-by"]);
        Assert.Equal((1, 1, 3, (string?)null), (created.Spec.Completions, created.Spec.Parallelism, created.Spec.BackoffLimit, created.Spec.CompletionMode));

        var pod = created.Spec.Template.Spec;
        Assert.Equal(created.Metadata.Labels, created.Spec.Template.Metadata.Labels);
        Assert.Equal("Never", pod.RestartPolicy);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        var container = Assert.Single(pod.Containers);
        Assert.Equal(("trainer", "reg/fastreid:1"), (container.Name, container.Image));
        Assert.Equal(["fastreid"], container.Command);
        Assert.Equal(
            ["export", "--config", "s3://models/market-r50/config.yaml", "--output", "s3://b/p", "--format", "onnx", "--opset", "17",
             "--batch", "dynamic", "--tolerance", "0.0001", "MODEL.WEIGHTS", "s3://models/market-r50/model.pt"],
            container.Args);
        var env = container.Env.ToDictionary(e => e.Name);
        Assert.Equal("/dev/termination-log", env["FASTREID_RESULT_FILE"].Value);
        Assert.Equal("/tmp", env["HOME"].Value);
        Assert.Equal("http://minio:9000", env["AWS_ENDPOINT_URL"].Value);
        Assert.Equal("eu-1", env["AWS_REGION"].Value);
        Assert.Equal(("s3-creds", "AWS_ACCESS_KEY_ID"), (env["AWS_ACCESS_KEY_ID"].ValueFrom.SecretKeyRef.Name, env["AWS_ACCESS_KEY_ID"].ValueFrom.SecretKeyRef.Key));
        Assert.Equal("s3-creds", env["AWS_SECRET_ACCESS_KEY"].ValueFrom.SecretKeyRef.Name);
        Assert.Equal(("/dev/termination-log", "FallbackToLogsOnError"), (container.TerminationMessagePath, container.TerminationMessagePolicy));
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.Equal("/tmp", Assert.Single(container.VolumeMounts).MountPath);
        Assert.Equal("2", container.Resources.Limits["cpu"].ToString());
        Assert.False(container.Resources.Limits.ContainsKey("nvidia.com/gpu"));

        var rules = created.Spec.PodFailurePolicy.Rules;
        Assert.Equal(("FailJob", "trainer"), (rules[0].Action, rules[0].OnExitCodes.ContainerName));
        Assert.Equal([2, 3, 4], rules[0].OnExitCodes.Values);
        Assert.Equal(("Ignore", "DisruptionTarget"), (rules[1].Action, rules[1].OnPodConditions[0].Type));
        Assert.Contains(plan.Events, e => e.Reason == "Created");
    }

    [Fact]
    public void Model_and_config_uris_need_no_experiment_and_a_static_batch_is_passed_on()
    {
        var job = Export(new ModelSource { ModelUri = "s3://m/model.pt", ConfigUri = "s3://m/config.yaml" });
        job.Spec.Onnx = new OnnxSpec { Opset = 18, DynamicBatch = false, BatchSize = 8 };
        job.Spec.RunPolicy = new RunPolicy { BackoffLimit = 0, ActiveDeadlineSeconds = 600 };
        var plan = PlanOf(job, null);
        Assert.Equal(("True", "SourceGiven"), (Cond(plan, ConditionTypes.SourceReady).Status, Cond(plan, ConditionTypes.SourceReady).Reason));
        var created = CreatedJob(plan);
        var args = created.Spec.Template.Spec.Containers[0].Args;
        Assert.Equal(["--opset", "18", "--batch", "8"], args.Skip(7).Take(4));
        Assert.Equal(["MODEL.WEIGHTS", "s3://m/model.pt"], args.TakeLast(2));
        Assert.Equal("s3://m/config.yaml", args[2]);
        Assert.Equal((0, 600L), (created.Spec.BackoffLimit, created.Spec.ActiveDeadlineSeconds));
    }

    [Theory]
    [InlineData(true, true, "spec.source: give exactly one of experimentRef or modelUri")]
    [InlineData(false, false, "spec.source: give exactly one of experimentRef or modelUri")]
    public void A_source_with_both_or_neither_is_invalid_and_names_the_field(bool byRef, bool byUri, string expected)
    {
        var job = Export(new ModelSource
        {
            ExperimentRef = byRef ? new LocalObjectReference { Name = "market-r50" } : null,
            ModelUri = byUri ? "s3://m/model.pt" : null,
            ConfigUri = byUri ? "s3://m/config.yaml" : null,
        });
        var plan = PlanOf(job, Source(Phases.Succeeded));
        Assert.Empty(plan.Actions);
        Assert.Equal(Phases.Failed, plan.Status.Phase);
        Assert.Contains(expected, Cond(plan, ConditionTypes.InvalidSpec).Message);
    }

    [Fact]
    public void Without_output_the_default_storage_is_used_or_the_field_is_named()
    {
        var job = Export(new ModelSource { ModelUri = "s3://m/model.pt", ConfigUri = "s3://m/config.yaml" });
        job.Spec.Output = null;
        var invalid = PlanOf(job, null);
        Assert.Contains("spec.output: is required", Cond(invalid, ConditionTypes.InvalidSpec).Message);
        var storage = new PlannerOptions { DefaultStorage = new OutputSpec { Uri = "s3://store/", SecretRef = new SecretReference { Name = "store" } } };
        var plan = PlanOf(job, null, options: storage);
        var args = CreatedJob(plan).Spec.Template.Spec.Containers[0].Args;
        Assert.Equal("s3://store/team-a/market-onnx", args[args.IndexOf("--output") + 1]);
    }

    [Fact]
    public void The_result_of_the_export_pod_fills_the_status()
    {
        var job = Export();
        var first = PlanOf(job, Source(Phases.Succeeded));
        var name = first.Status.JobName!;
        var running = PlanOf(job.WithStatus(first.Status), Source(Phases.Succeeded),
            With(CreatedJob(first), T0.AddMinutes(1), j => j.Status.Active = 1, ExportPod(name, "Running")));
        Assert.Equal(Phases.Running, running.Status.Phase);
        Assert.Contains(running.Events, e => e.Reason == "Running");

        var done = PlanOf(job.WithStatus(running.Status), Source(Phases.Succeeded),
            With(CreatedJob(first), T0.AddMinutes(3), j => Complete(j, T0.AddMinutes(3)), ExportPod(name, "Succeeded", ExportResultJson)));
        Assert.Empty(done.Actions);
        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        Assert.Equal("s3://b/p/model.onnx", done.Status.Artefacts!.Export);
        Assert.Equal("ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12", done.Status.Artefacts.Sha256!["model.onnx"]);
        var v = done.Status.Verification!;
        Assert.Equal((true, 1e-4, 1.2e-6, 3.4e-6, 17, "dynamic", "1.31.1"), (v.Passed, v.Tolerance, v.MaxRelativeError, v.MaxAbsError, v.Opset, v.Batch, v.Onnxruntime));
        var succeeded = Cond(done, ConditionTypes.Succeeded);
        Assert.Equal("Exported", succeeded.Reason);
        Assert.Equal("model.onnx sha256 ab12cd34ef56…, max relative error 1.2e-06 ≤ 1e-04 (onnxruntime 1.31.1)", succeeded.Message);
        Assert.Equal(T0.AddMinutes(3), done.Status.CompletionTime);
        Assert.Contains(done.Events, e => e.Reason == "Succeeded" && e.Message == succeeded.Message);
    }

    [Fact]
    public void A_garbled_result_is_reported_not_hidden()
    {
        var job = Export();
        var first = PlanOf(job, Source(Phases.Succeeded));
        var done = PlanOf(job.WithStatus(first.Status), Source(Phases.Succeeded),
            With(CreatedJob(first), T0.AddMinutes(3), j => Complete(j, T0.AddMinutes(3)), ExportPod(first.Status.JobName!, "Succeeded", "{\"status\":")));
        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        Assert.Equal("ResultMissing", Cond(done, ConditionTypes.Succeeded).Reason);
        Assert.Contains("not result JSON", Cond(done, ConditionTypes.Succeeded).Message);
        Assert.Null(done.Status.Artefacts);
    }

    [Fact]
    public void A_failed_verification_fails_the_export_with_the_trainers_message()
    {
        var job = Export();
        var first = PlanOf(job, Source(Phases.Succeeded));
        const string said = "ONNX verification failed: at batch 4 onnxruntime differs from the TorchSharp model by 3.10E-003 relative (tolerance 1.0E-004)";
        var failed = PlanOf(job.WithStatus(first.Status), Source(Phases.Succeeded), With(CreatedJob(first), T0.AddMinutes(3), j =>
        {
            j.Status.Failed = 1;
            j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "PodFailurePolicy", Message = "Container trainer for pod team-a/x failed with exit code 3 matching FailJob rule at index 0", LastTransitionTime = T0.AddMinutes(3).UtcDateTime }];
        }, ExportPod(first.Status.JobName!, "Failed", said, exitCode: 3)));
        Assert.Equal(Phases.Failed, failed.Status.Phase);
        var condition = Cond(failed, ConditionTypes.Failed);
        Assert.Equal("VerificationFailed", condition.Reason);
        Assert.StartsWith(said, condition.Message);
        Assert.Contains(failed.Events, e => e.Type == PlannedEvent.Warning && e.Reason == "Failed");
    }

    [Fact]
    public void Exit_code_4_fails_the_export_as_unsupported_with_the_trainers_message()
    {
        var job = Export();
        var first = PlanOf(job, Source(Phases.Succeeded));
        const string said = "opset 22 is not supported by this build's exporter (17-21)";
        var failed = PlanOf(job.WithStatus(first.Status), Source(Phases.Succeeded), With(CreatedJob(first), T0.AddMinutes(3), j =>
        {
            j.Status.Failed = 1;
            j.Status.Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "PodFailurePolicy", Message = "Container trainer for pod team-a/x failed with exit code 4 matching FailJob rule at index 0", LastTransitionTime = T0.AddMinutes(3).UtcDateTime }];
        }, ExportPod(first.Status.JobName!, "Failed", said, exitCode: ExitCodes.Unsupported)));
        var condition = Cond(failed, ConditionTypes.Failed);
        Assert.Equal((Phases.Failed, "Unsupported"), (failed.Status.Phase, condition.Reason));
        Assert.StartsWith(said, condition.Message);
    }

    [Fact]
    public void A_spec_change_replaces_the_job()
    {
        var job = Export();
        var first = PlanOf(job, Source(Phases.Succeeded));
        var oldJob = CreatedJob(first);
        var changed = Export(generation: 2);
        changed.Spec.Verify.Tolerance = 1e-3;
        var plan = PlanOf(changed.WithStatus(first.Status), Source(Phases.Succeeded), With(oldJob, T0.AddMinutes(1), j => j.Status.Active = 1));
        Assert.NotEqual(first.Status.JobName, plan.Status.JobName);
        Assert.Contains(plan.Actions, a => a is DeleteChild { Kind: "Job" } d && d.Name == first.Status.JobName);
        Assert.Equal(plan.Status.JobName, CreatedJob(plan).Metadata.Name);
        Assert.Equal(2, plan.Status.ObservedGeneration);
        Assert.Contains(plan.Events, e => e.Reason == "SpecChanged");
    }

    [Fact]
    public void Ttl_removes_the_job_and_keeps_the_status()
    {
        var job = Export();
        job.Spec.RunPolicy = new RunPolicy { TtlSecondsAfterFinished = 60 };
        var first = PlanOf(job, Source(Phases.Succeeded));
        var name = first.Status.JobName!;
        ObservedChildren Done(DateTimeOffset now) => With(CreatedJob(first), now, j => Complete(j, T0.AddMinutes(3)), ExportPod(name, "Succeeded", ExportResultJson));
        var done = PlanOf(job.WithStatus(first.Status), Source(Phases.Succeeded), Done(T0.AddMinutes(3)));
        Assert.Equal(TimeSpan.FromSeconds(60), done.RequeueAfter);
        var expired = PlanOf(job.WithStatus(done.Status), Source(Phases.Succeeded), Done(T0.AddMinutes(5)));
        Assert.Equal([new DeleteChild("batch/v1", "Job", name)], expired.Actions);
        var after = PlanOf(job.WithStatus(expired.Status), null, ObservedChildren.None(T0.AddMinutes(6)));
        Assert.Empty(after.Actions); // nothing is re-exported, even with the experiment gone
        Assert.Equal(Phases.Succeeded, after.Status.Phase);
        Assert.Equal("s3://b/p/model.onnx", after.Status.Artefacts!.Export);
    }

    [Fact]
    public void Planning_twice_gives_the_same_plan()
    {
        var job = Export();
        var first = PlanOf(job, Source(Phases.Succeeded));
        var again = PlanOf(job, Source(Phases.Succeeded));
        Assert.Equal(first.Actions.Select(a => a.ToString()), again.Actions.Select(a => a.ToString()));
        Assert.Equal(ApiJson.Serialize(first.Status), ApiJson.Serialize(again.Status));
        Assert.Equal(first.Events, again.Events);

        // After the status write, a look before the informer saw the Job says nothing new.
        var afterWrite = PlanOf(job.WithStatus(first.Status), Source(Phases.Succeeded));
        Assert.False(StatusUpdates.Differs(first.Status, afterWrite.Status));
        Assert.Empty(afterWrite.Events);
    }

    [Fact]
    public void An_export_pod_that_cannot_start_is_named_then_fails_the_export_at_its_pending_deadline_and_its_job_is_deleted()
    {
        var job = Export();
        job.Spec.RunPolicy = new RunPolicy { PendingDeadlineSeconds = 300 };
        var first = PlanOf(job, Source(Phases.Succeeded));
        var name = first.Status.JobName!;
        V1Pod Stuck()
        {
            var pod = ExportPod(name, "Pending");
            pod.Metadata.CreationTimestamp = T0.UtcDateTime;
            pod.Status.ContainerStatuses[0].State = new V1ContainerState
            {
                Waiting = new V1ContainerStateWaiting { Reason = "CreateContainerConfigError", Message = "couldn't find key AWS_ACCESS_KEY_ID in Secret team-a/s3-creds" },
            };
            return pod;
        }

        var stuck = PlanOf(job.WithStatus(first.Status), Source(Phases.Succeeded), With(CreatedJob(first), T0.AddMinutes(1), j => j.Status.Active = 1, Stuck()));
        Assert.Equal(Phases.Pending, stuck.Status.Phase);
        Assert.Equal(("False", "CreateContainerConfigError"), (Cond(stuck, ConditionTypes.PodsReady).Status, Cond(stuck, ConditionTypes.PodsReady).Reason));
        Assert.Contains("couldn't find key AWS_ACCESS_KEY_ID in Secret team-a/s3-creds", Cond(stuck, ConditionTypes.PodsReady).Message);
        Assert.Contains(stuck.Events, e => e is { Type: PlannedEvent.Warning, Reason: "CreateContainerConfigError" });
        Assert.Equal(TimeSpan.FromMinutes(4), stuck.RequeueAfter);

        var failed = PlanOf(job.WithStatus(stuck.Status), Source(Phases.Succeeded), With(CreatedJob(first), T0.AddMinutes(5), j => j.Status.Active = 1, Stuck()));
        Assert.Equal(Phases.Failed, failed.Status.Phase);
        Assert.Equal("CreateContainerConfigError", Cond(failed, ConditionTypes.Failed).Reason);
        Assert.Contains("not started within 300s", Cond(failed, ConditionTypes.Failed).Message);
        Assert.Empty(failed.Actions);

        var removing = PlanOf(job.WithStatus(failed.Status), Source(Phases.Succeeded), With(CreatedJob(first), T0.AddMinutes(5), j => j.Status.Active = 1, Stuck()));
        Assert.Equal([$"delete Job/{name}"], removing.Actions.Select(a => a.ToString()));
        var after = PlanOf(job.WithStatus(removing.Status), Source(Phases.Succeeded), ObservedChildren.None(T0.AddMinutes(6)));
        Assert.Empty(after.Actions);
        Assert.Equal(Phases.Failed, after.Status.Phase);
    }
}
