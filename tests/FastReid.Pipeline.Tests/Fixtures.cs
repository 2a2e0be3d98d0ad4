using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Pipeline.Tests;

/// <summary>Experiments and the children a kubelet and the Job controller would leave behind.</summary>
internal static class Fixtures
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    public static ReidExperiment Experiment(int nodes = 2, int gpus = 4, long generation = 1) => new()
    {
        Metadata = new ObjectMeta { Name = "market-r50", Namespace = "team-a", Uid = "0f9e-uid", Generation = generation },
        Spec = new ReidExperimentSpec
        {
            Dataset = new DatasetSpec { Name = "Market1501", Uri = "s3://datasets/market1501" },
            Config = new JsonObject
            {
                ["MODEL"] = new JsonObject { ["BACKBONE"] = new JsonObject { ["DEPTH"] = "50x" } },
                ["SOLVER"] = new JsonObject { ["BASE_LR"] = 0.00035, ["MAX_EPOCH"] = 60 },
            },
            Resources = new ResourcesSpec { Nodes = nodes, GpusPerNode = gpus, Cpu = "8", Memory = "32Gi" },
            Output = new OutputSpec { Uri = "s3://models/market-r50", Endpoint = "http://minio:9000", SecretRef = new SecretReference { Name = "s3-creds" } },
            RunPolicy = new RunPolicy { BackoffLimit = 3, ActiveDeadlineSeconds = 86400 },
        },
    };

    public static Plan<ReidExperimentStatus> Plan(ReidExperiment e, ObservedChildren? observed = null, PlannerOptions? options = null) =>
        ReidExperimentPlanner.Plan(e, observed ?? ObservedChildren.None(T0), options);

    /// <summary>Feeds the plan's status back, as the operator's status write would.</summary>
    public static ReidExperiment WithStatus(this ReidExperiment e, ReidExperimentStatus status)
    {
        e.Status = status;
        return e;
    }

    public static ExportJob WithStatus(this ExportJob job, ExportJobStatus status)
    {
        job.Status = status;
        return job;
    }

    /// <summary>The children a first plan creates, as the API server would return them.</summary>
    public static ObservedChildren Created(Plan<ReidExperimentStatus> plan, DateTimeOffset now, Action<V1Job>? jobState = null, params V1Pod[] pods)
    {
        var objects = plan.Actions.OfType<CreateChild>().Select(c => c.Object).ToList();
        var job = objects.OfType<V1Job>().Single();
        job.Status = new V1JobStatus();
        jobState?.Invoke(job);
        return ObservedChildren.None(now)
            .With(objects.OfType<V1ConfigMap>())
            .With(objects.OfType<V1Service>())
            .With([job])
            .With(pods);
    }

    public static V1Pod Pod(string run, int index, string phase, string? message = null, int exitCode = 0, DateTime? finished = null) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = $"{run}-{index}-abcde",
            Labels = new Dictionary<string, string> { [ExperimentNames.RunLabel] = run, ["batch.kubernetes.io/job-completion-index"] = $"{index}" },
            Annotations = new Dictionary<string, string> { [ExperimentNames.CompletionIndexAnnotation] = $"{index}" },
        },
        Status = new V1PodStatus
        {
            Phase = phase,
            ContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = "trainer", Image = "img", ImageID = "", Ready = phase == "Running", RestartCount = 0,
                    State = phase is "Succeeded" or "Failed"
                        ? new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = exitCode, Message = message, FinishedAt = finished ?? T0.UtcDateTime } }
                        : new V1ContainerState { Running = new V1ContainerStateRunning() },
                },
            ],
        },
    };

    public static void Complete(V1Job job, DateTimeOffset at)
    {
        job.Status.StartTime = T0.UtcDateTime;
        job.Status.CompletionTime = at.UtcDateTime;
        job.Status.Succeeded = job.Spec.Completions;
        job.Status.Conditions = [new V1JobCondition { Type = "Complete", Status = "True", LastTransitionTime = at.UtcDateTime }];
    }

    /// <summary>What FastReid.Engine.Results writes (the trainer's side of the contract).</summary>
    public const string ResultJson = """
        {"status":"Succeeded","metrics":{"mAP":0.861,"rank1":0.942,"rank5":0.978,"rank10":0.985,"mINP":0.61},
         "artefacts":{"model":"s3://models/market-r50/model_final.pth","config":"s3://models/market-r50/config.yaml",
                      "metrics":"s3://models/market-r50/metrics.json","manifest":"s3://models/market-r50/manifest.json"},
         "sha256":{"config.yaml":"cd34","model_final.pth":"ab12"},"weights_sha256":"ab12","budget":{"key":"SOLVER.MAX_EPOCH","used":60}}
        """;
}
