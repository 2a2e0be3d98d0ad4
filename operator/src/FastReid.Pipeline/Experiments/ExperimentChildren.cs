using System.Globalization;
using FastReid.Api.V1Alpha1;
using k8s.Models;

namespace FastReid.Pipeline.Experiments;

/// <summary>What one run needs, resolved from the spec and the operator defaults.</summary>
public sealed record ResolvedRun(
    ReidExperiment Experiment,
    string RunName,
    string Namespace,
    string ConfigYaml,
    OutputSpec Output,
    string Image)
{
    /// <summary>The trainer's run id (<see cref="ExperimentNames.RunId"/>): the run name, or one that outlives a budget change.</summary>
    public string RunId { get; init; } = RunName;

    /// <summary>The PersistentVolumeClaims of the run's pvc:// output, dataset and config paths, mounted into each pod.</summary>
    public ClaimMounts Claims { get; init; } = ClaimMounts.None;
}

/// <summary>
/// Builds the desired children of a run: the ConfigMap with the effective config, the headless Service that
/// gives the index-0 pod its DNS name, and the Indexed Job (one pod per node, one worker per GPU).
/// </summary>
public static class ExperimentChildren
{
    public const string ConfigMountPath = "/etc/fastreid";
    public const string ConfigFileName = "config.yaml";
    public const string ResultFile = TrainerPod.ResultFile;
    /// <summary>FASTREID_DATASETS in the pod when the dataset is made (Synthetic) or fetched (s3://) there.</summary>
    public const string DatasetsPath = "/var/lib/fastreid/datasets";
    /// <summary>The trainer's run id (its checkpoints record it; a resume takes only its own run's).</summary>
    public const string RunIdVariable = "FASTREID_RUN_ID";

    /// <summary>Exit codes that fail the run at once: a usage error, a setting this build cannot run.</summary>
    public static readonly int[] FailJobExitCodes = [TrainerExitCodes.Usage, TrainerExitCodes.Unsupported];

    public static V1ConfigMap ConfigMap(ResolvedRun run) => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Metadata = Metadata(run),
        Data = new Dictionary<string, string> { [ConfigFileName] = run.ConfigYaml },
    };

    public static V1Service HeadlessService(ResolvedRun run, PlannerOptions options) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Metadata(run),
        Spec = new V1ServiceSpec
        {
            ClusterIP = "None",
            // Workers resolve the rank-0 pod before it is ready: it is the one that becomes ready last.
            PublishNotReadyAddresses = true,
            Selector = new Dictionary<string, string> { [ExperimentNames.RunLabel] = run.RunName },
            Ports = [new V1ServicePort { Name = "rendezvous", Port = options.MasterPort, TargetPort = options.MasterPort, Protocol = "TCP" }],
        },
    };

    public static V1Job Job(ResolvedRun run, PlannerOptions options)
    {
        var spec = run.Experiment.Spec;
        int nodes = spec.Resources.Nodes;
        var labels = ExperimentNames.Labels(run.Experiment, run.RunName);
        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = Metadata(run),
            Spec = new V1JobSpec
            {
                CompletionMode = "Indexed",
                Completions = nodes,
                Parallelism = nodes,
                BackoffLimit = spec.RunPolicy.BackoffLimit,
                ActiveDeadlineSeconds = spec.RunPolicy.ActiveDeadlineSeconds,
                Suspend = spec.RunPolicy.Suspend,
                PodFailurePolicy = TrainerPod.FailurePolicy(FailJobExitCodes),
                // ttlSecondsAfterFinished is applied by the operator, which removes every child and keeps the status.
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = PodSpec(run, options),
                },
            },
        };
    }

    private static V1PodSpec PodSpec(ResolvedRun run, PlannerOptions options)
    {
        var spec = run.Experiment.Spec;
        var volumes = new List<V1Volume>
        {
            new() { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = run.RunName } },
            new() { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() },
        };
        var mounts = new List<V1VolumeMount>
        {
            new() { Name = "config", MountPath = ConfigMountPath, ReadOnlyProperty = true },
            new() { Name = "tmp", MountPath = "/tmp" },
        };
        bool localDatasets = spec.Dataset.Uri is null || spec.Dataset.Uri.StartsWith("s3://", StringComparison.Ordinal);
        if (localDatasets)
        {
            volumes.Add(new V1Volume { Name = "datasets", EmptyDir = new V1EmptyDirVolumeSource() });
            mounts.Add(new V1VolumeMount { Name = "datasets", MountPath = DatasetsPath });
        }
        volumes.AddRange(run.Claims.Volumes());
        mounts.AddRange(run.Claims.Mounts());
        if (spec.Resources.GpusPerNode > 0)
        {
            // Data-loader workers share batches through /dev/shm; the container default (64 MiB) is too small.
            volumes.Add(new V1Volume { Name = "dshm", EmptyDir = new V1EmptyDirVolumeSource { Medium = "Memory" } });
            mounts.Add(new V1VolumeMount { Name = "dshm", MountPath = "/dev/shm" });
        }
        return new V1PodSpec
        {
            RestartPolicy = "Never",
            Subdomain = run.RunName,
            EnableServiceLinks = false,
            AutomountServiceAccountToken = false,
            SecurityContext = TrainerPod.PodSecurity(),
            Volumes = volumes,
            InitContainers = spec.Dataset.Name == "Synthetic" ? [SynthContainer(run, options, mounts)] : null,
            Containers =
            [
                new V1Container
                {
                    Name = ExperimentNames.TrainerContainer,
                    Image = run.Image,
                    ImagePullPolicy = "IfNotPresent",
                    Command = [options.TrainerCommand],
                    Args = TrainerArgs(spec.Resources, options),
                    Env = Env(run, options),
                    Ports = options.TrainerMetricsPort > 0
                        ? [new V1ContainerPort { Name = "rendezvous", ContainerPort = options.MasterPort, Protocol = "TCP" },
                           new V1ContainerPort { Name = "metrics", ContainerPort = options.TrainerMetricsPort, Protocol = "TCP" }]
                        : [new V1ContainerPort { Name = "rendezvous", ContainerPort = options.MasterPort, Protocol = "TCP" }],
                    Resources = Resources(spec.Resources),
                    VolumeMounts = mounts,
                    TerminationMessagePath = ResultFile,
                    TerminationMessagePolicy = "FallbackToLogsOnError",
                    SecurityContext = TrainerPod.ContainerSecurity(),
                },
            ],
        };
    }

    /// <summary>Writes the Synthetic dataset (Market-1501 layout) into the pod's datasets folder before training.</summary>
    private static V1Container SynthContainer(ResolvedRun run, PlannerOptions options, List<V1VolumeMount> mounts)
    {
        var synthetic = run.Experiment.Spec.Dataset.Synthetic ?? new SyntheticDatasetSpec();
        var resources = Resources(run.Experiment.Spec.Resources, withoutGpu: true);
        return new V1Container
        {
            Name = "synth",
            Image = run.Image,
            ImagePullPolicy = "IfNotPresent",
            Command = [options.TrainerCommand],
            Args =
            [
                "data", "synth", "--out", DatasetsPath,
                "--identities", Invariant(synthetic.Identities),
                "--train-images", Invariant(synthetic.TrainImages),
                "--cameras", Invariant(synthetic.Cameras),
                "--seed", Invariant(synthetic.Seed),
            ],
            Env = [new V1EnvVar { Name = "HOME", Value = "/tmp" }],
            Resources = resources,
            VolumeMounts = mounts.Where(m => m.Name is "tmp" or "datasets").ToList(),
            TerminationMessagePolicy = "FallbackToLogsOnError",
            SecurityContext = TrainerPod.ContainerSecurity(),
        };
    }

    /// <summary>
    /// One worker per GPU (one on a CPU pod), started by the trainer's launcher: worker i of pod NODE_RANK gets
    /// LOCAL_RANK i and RANK NODE_RANK × NPROC_PER_NODE + i from it, so the pod needs no shell arithmetic. Rank 0
    /// serves the metrics page the operator reads the progress from.
    /// </summary>
    public static List<string> TrainerArgs(ResourcesSpec resources, PlannerOptions options) =>
    [
        "train", "--nproc-per-node", Invariant(WorkersPerNode(resources)), "--config", $"{ConfigMountPath}/{ConfigFileName}",
        .. options.TrainerMetricsPort > 0 ? ["--metrics-port", Invariant(options.TrainerMetricsPort)] : Array.Empty<string>(),
    ];

    private static int WorkersPerNode(ResourcesSpec resources) => Math.Max(1, resources.GpusPerNode);

    /// <summary>The DNS name of the index-0 pod: hostname {job}-0 under the headless Service {job}.</summary>
    public static string MasterAddress(ResolvedRun run) => $"{run.RunName}-0.{run.RunName}.{run.Namespace}.svc";

    private static List<V1EnvVar> Env(ResolvedRun run, PlannerOptions options)
    {
        var spec = run.Experiment.Spec;
        int nodes = spec.Resources.Nodes, perNode = WorkersPerNode(spec.Resources);
        var completionIndex = new V1EnvVarSource
        {
            FieldRef = new V1ObjectFieldSelector { FieldPath = $"metadata.annotations['{ExperimentNames.CompletionIndexAnnotation}']" },
        };
        var env = new List<V1EnvVar>
        {
            new() { Name = "JOB_COMPLETION_INDEX", ValueFrom = completionIndex },
            new() { Name = "NODE_RANK", ValueFrom = completionIndex },
            new() { Name = "NNODES", Value = Invariant(nodes) },
            new() { Name = "NPROC_PER_NODE", Value = Invariant(perNode) },
            new() { Name = "WORLD_SIZE", Value = Invariant(nodes * perNode) },
            new() { Name = "MASTER_ADDR", Value = MasterAddress(run) },
            new() { Name = "MASTER_PORT", Value = Invariant(options.MasterPort) },
            new() { Name = "FASTREID_RESULT_FILE", Value = ResultFile },
            new() { Name = "FASTREID_OUTPUT_URI", Value = run.Output.Uri },
            // recorded in each checkpoint: with RESUME auto a retried pod resumes only this run's checkpoints, and a
            // new generation (a new run name) starts afresh in the same output instead of resuming an older spec's;
            // a sweep trial promoted to a larger budget keeps its run id, so it resumes
            new() { Name = RunIdVariable, Value = run.RunId },
            new() { Name = "HOME", Value = "/tmp" },
        };
        switch (spec.Dataset.Uri)
        {
            case null:
                env.Add(new V1EnvVar { Name = "FASTREID_DATASETS", Value = DatasetsPath });
                break;
            case var s3 when s3.StartsWith("s3://", StringComparison.Ordinal):
                // The trainer fetches the dataset root from S3 into FASTREID_DATASETS.
                env.Add(new V1EnvVar { Name = "FASTREID_DATASETS", Value = DatasetsPath });
                env.Add(new V1EnvVar { Name = "FASTREID_DATASET_URI", Value = s3 });
                break;
            case var pvc when pvc.StartsWith(StorageLocation.PvcScheme, StringComparison.Ordinal):
                // the claim is mounted (read-only unless the output is on it too) and read in place
                env.Add(new V1EnvVar { Name = "FASTREID_DATASETS", Value = ClaimMounts.PodPath(pvc) });
                break;
            case var path:
                env.Add(new V1EnvVar { Name = "FASTREID_DATASETS", Value = StorageLocation.TryParse(path, out _)?.Path ?? path });
                break;
        }
        env.AddRange(TrainerPod.StorageEnv(run.Output));
        return env;
    }

    private static V1ResourceRequirements Resources(ResourcesSpec resources, bool withoutGpu = false) =>
        TrainerPod.Resources(resources.Cpu, resources.Memory, withoutGpu ? 0 : resources.GpusPerNode);

    private static V1ObjectMeta Metadata(ResolvedRun run) => new()
    {
        Name = run.RunName,
        NamespaceProperty = run.Namespace,
        Labels = ExperimentNames.Labels(run.Experiment, run.RunName),
        OwnerReferences = [OwnerReference(run.Experiment)],
    };

    public static V1OwnerReference OwnerReference(ReidExperiment experiment) => ChildObjects.OwnerReference(experiment);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
