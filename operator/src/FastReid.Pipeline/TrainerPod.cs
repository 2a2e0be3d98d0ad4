using System.Globalization;
using FastReid.Api.V1Alpha1;
using k8s.Models;

namespace FastReid.Pipeline;

/// <summary>
/// What every trainer pod the operator makes has in common, whatever it runs (train, export): a non-root,
/// read-only pod, S3 settings and credentials from the output, CPU/memory/GPU limits, and which failures
/// end the Job at once.
/// </summary>
public static class TrainerPod
{
    public const string Container = "trainer";
    public const string ResultFile = "/dev/termination-log";
    public const long RunAsUser = 1000;

    public static V1PodSecurityContext PodSecurity() => new()
    {
        RunAsNonRoot = true,
        RunAsUser = RunAsUser,
        RunAsGroup = RunAsUser,
        FsGroup = RunAsUser,
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    public static V1SecurityContext ContainerSecurity() => new()
    {
        AllowPrivilegeEscalation = false,
        ReadOnlyRootFilesystem = true,
        RunAsNonRoot = true,
        Privileged = false,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    /// <summary>
    /// Retries are for what may pass: the given exit codes (<see cref="TrainerExitCodes"/>) fail the Job at
    /// once instead of burning backoffLimit, and pods evicted or preempted (DisruptionTarget) are replaced
    /// without counting.
    /// </summary>
    public static V1PodFailurePolicy FailurePolicy(params int[] failJobExitCodes) => new()
    {
        Rules =
        [
            new V1PodFailurePolicyRule
            {
                Action = "FailJob",
                OnExitCodes = new V1PodFailurePolicyOnExitCodesRequirement { ContainerName = Container, OperatorProperty = "In", Values = failJobExitCodes },
            },
            new V1PodFailurePolicyRule
            {
                Action = "Ignore",
                OnPodConditions = [new V1PodFailurePolicyOnPodConditionsPattern { Type = "DisruptionTarget", Status = "True" }],
            },
        ],
    };

    /// <summary>AWS_ENDPOINT_URL, AWS_REGION and the credentials (by Secret reference) of an S3 output.</summary>
    public static IEnumerable<V1EnvVar> StorageEnv(OutputSpec output)
    {
        if (output.Endpoint is { } endpoint) yield return new V1EnvVar { Name = "AWS_ENDPOINT_URL", Value = endpoint };
        if (output.Region is { } region) yield return new V1EnvVar { Name = "AWS_REGION", Value = region };
        if (output.SecretRef is { } secret)
        {
            yield return SecretEnv("AWS_ACCESS_KEY_ID", secret.Name, secret.AccessKeyIdKey);
            yield return SecretEnv("AWS_SECRET_ACCESS_KEY", secret.Name, secret.SecretAccessKeyKey);
        }
    }

    private static V1EnvVar SecretEnv(string name, string secret, string key) => new()
    {
        Name = name,
        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secret, Key = key, Optional = false } },
    };

    /// <summary>Requests equal to limits for CPU and memory; GPUs (nvidia.com/gpu) as limits.</summary>
    public static V1ResourceRequirements Resources(string? cpu, string? memory, int gpus)
    {
        var requests = new Dictionary<string, ResourceQuantity>();
        var limits = new Dictionary<string, ResourceQuantity>();
        if (cpu is not null) { requests["cpu"] = new ResourceQuantity(cpu); limits["cpu"] = new ResourceQuantity(cpu); }
        if (memory is not null) { requests["memory"] = new ResourceQuantity(memory); limits["memory"] = new ResourceQuantity(memory); }
        if (gpus > 0) limits["nvidia.com/gpu"] = new ResourceQuantity(gpus.ToString(CultureInfo.InvariantCulture));
        return new V1ResourceRequirements
        {
            Requests = requests.Count > 0 ? requests : null,
            Limits = limits.Count > 0 ? limits : null,
        };
    }
}
