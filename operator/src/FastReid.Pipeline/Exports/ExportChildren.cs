using System.Globalization;
using FastReid.Api.V1Alpha1;
using k8s.Models;

namespace FastReid.Pipeline.Exports;

/// <summary>What one export needs, resolved from the spec, its source and the operator defaults.</summary>
public sealed record ResolvedExport(ExportJob Job, string JobName, string Namespace, string ModelUri, string ConfigUri, OutputSpec Output, string Image)
{
    /// <summary>The claims of a pvc:// source (mounted read-only) and output (read-write).</summary>
    public ClaimMounts Claims { get; init; } = ClaimMounts.None;
}

/// <summary>
/// The export's one child: a batch/v1 Job of one pod running <c>fastreid export</c>, which writes
/// <c>&lt;output&gt;/model.onnx</c> and <c>verify.json</c> and reports the result in its termination message.
/// </summary>
public static class ExportChildren
{
    /// <summary>The trainer exits 2 on a usage or config error, 3 when onnxruntime disagrees beyond the tolerance, 4 for a setting it cannot run: retrying changes none.</summary>
    public static readonly int[] FailJobExitCodes = [TrainerExitCodes.Usage, TrainerExitCodes.VerificationFailed, TrainerExitCodes.Unsupported];

    /// <summary>Pod failures retried when the spec has no runPolicy.</summary>

    public static V1Job Job(ResolvedExport export, PlannerOptions options)
    {
        var spec = export.Job.Spec;
        var labels = ExportNames.Labels(export.Job, export.JobName);
        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta
            {
                Name = export.JobName,
                NamespaceProperty = export.Namespace,
                Labels = labels,
                OwnerReferences = [ChildObjects.OwnerReference(export.Job)],
            },
            Spec = new V1JobSpec
            {
                Completions = 1,
                Parallelism = 1,
                BackoffLimit = (spec.RunPolicy ?? new RunPolicy()).BackoffLimit,
                ActiveDeadlineSeconds = spec.RunPolicy?.ActiveDeadlineSeconds,
                PodFailurePolicy = TrainerPod.FailurePolicy(FailJobExitCodes),
                // ttlSecondsAfterFinished is applied by the operator, which removes the Job and keeps the status.
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec
                    {
                        RestartPolicy = "Never",
                        EnableServiceLinks = false,
                        AutomountServiceAccountToken = false,
                        SecurityContext = TrainerPod.PodSecurity(),
                        Volumes = [new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() }, .. export.Claims.Volumes()],
                        Containers =
                        [
                            new V1Container
                            {
                                Name = TrainerPod.Container,
                                Image = export.Image,
                                ImagePullPolicy = "IfNotPresent",
                                Command = [options.TrainerCommand],
                                Args = Args(export),
                                Env = Env(export),
                                // ONNX export and onnxruntime verification run on the CPU: never a GPU.
                                Resources = TrainerPod.Resources(spec.Resources.Cpu, spec.Resources.Memory, gpus: 0),
                                VolumeMounts = [new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }, .. export.Claims.Mounts()],
                                TerminationMessagePath = TrainerPod.ResultFile,
                                TerminationMessagePolicy = "FallbackToLogsOnError",
                                SecurityContext = TrainerPod.ContainerSecurity(),
                            },
                        ],
                    },
                },
            },
        };
    }

    /// <summary>
    /// <c>export --config C --output O --format onnx --opset N --batch dynamic|N --tolerance X MODEL.WEIGHTS M</c>, with a
    /// pvc:// source or output as its path in the pod.
    /// </summary>
    public static List<string> Args(ResolvedExport export)
    {
        var spec = export.Job.Spec;
        return
        [
            "export",
            "--config", ClaimMounts.PodPath(export.ConfigUri),
            "--output", ClaimMounts.PodPath(export.Output.Uri),
            "--format", ExportFormats.Onnx,
            "--opset", spec.Onnx.Opset.ToString(CultureInfo.InvariantCulture),
            "--batch", spec.Onnx.DynamicBatch ? "dynamic" : spec.Onnx.BatchSize.ToString(CultureInfo.InvariantCulture),
            "--tolerance", spec.Verify.Tolerance.ToString("R", CultureInfo.InvariantCulture),
            "MODEL.WEIGHTS", ClaimMounts.PodPath(export.ModelUri),
        ];
    }

    /// <summary>The output's S3 settings and credentials; the source is read with the same ones.</summary>
    private static List<V1EnvVar> Env(ResolvedExport export) =>
    [
        new() { Name = "FASTREID_RESULT_FILE", Value = TrainerPod.ResultFile },
        new() { Name = "HOME", Value = "/tmp" },
        .. TrainerPod.StorageEnv(export.Output),
    ];
}
