using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace FastReid.Api.V1Alpha1;

/// <summary>A Secret in the resource's namespace. Secrets are only ever referenced, never inlined.</summary>
public sealed class SecretReference
{
    [Required, Description("Name of the Secret in the same namespace.")]
    [RegularExpression(Validation.Dns1123Subdomain)]
    public string Name { get; set; } = "";
    [Description("Key holding the access key id.")]
    [MaxLength(253), RegularExpression(Validation.SecretKey, ErrorMessage = Validation.SecretKeyRule)]
    public string AccessKeyIdKey { get; set; } = "AWS_ACCESS_KEY_ID";
    [Description("Key holding the secret access key.")]
    [MaxLength(253), RegularExpression(Validation.SecretKey, ErrorMessage = Validation.SecretKeyRule)]
    public string SecretAccessKeyKey { get; set; } = "AWS_SECRET_ACCESS_KEY";
}

/// <summary>Points at another resource of this API in the same namespace.</summary>
public sealed class LocalObjectReference
{
    [Required, Description("Name of the resource in the same namespace.")]
    public string Name { get; set; } = "";
}

/// <summary>
/// Where artefacts go: an S3 URI (with an optional endpoint and a credentials Secret), a PersistentVolumeClaim
/// (<c>pvc://CLAIM/path</c>, mounted read-write into the trainer pods), or a file path (runs on one machine only).
/// </summary>
public sealed class OutputSpec
{
    [Required, Description("s3://bucket/prefix, or pvc://CLAIM/path (a PersistentVolumeClaim of this namespace, mounted read-write). A file path (/... or file:///...) only for runs on one machine; the operator refuses it.")]
    public string Uri { get; set; } = "";
    [Description("S3 endpoint for S3-compatible stores, e.g. http://minio:9000.")]
    public string? Endpoint { get; set; }
    [Description("S3 region.")]
    public string? Region { get; set; }
    [Description("Secret with the S3 credentials.")]
    public SecretReference? SecretRef { get; set; }
}

/// <summary>Synthetic dataset parameters: a Market-1501-layout set written by <c>fastreid data synth</c> before training.</summary>
public sealed class SyntheticDatasetSpec
{
    [Range(4, 1500), Description("Identities in all, split half for training and half for testing (fastreid data synth takes 4 to 1500).")]
    public int Identities { get; set; } = 120;
    [Range(2, 1000), Description("Training images per identity (at least 2, so that every identity has a positive pair).")]
    public int TrainImages { get; set; } = 16;
    [Range(2, 6), Description("Number of cameras.")]
    public int Cameras { get; set; } = 6;
    [Range(0, int.MaxValue), Description("Random seed.")]
    public int Seed { get; set; }
}

[CelRule("self.name == 'Synthetic' || has(self.uri)", "dataset.uri is required unless the dataset is Synthetic")]
public sealed class DatasetSpec
{
    [Required, MaxLength(63), Description("FastReID dataset name (Market1501, DukeMTMC, MSMT17, VeRi, a folder name), or Synthetic.")]
    public string Name { get; set; } = "";
    [Description("Where the dataset root lives (the folder holding e.g. Market-1501-v15.09.15/): s3://bucket/prefix, or pvc://CLAIM/path (mounted read-only). A file path only for runs on one machine. Not used for Synthetic.")]
    public string? Uri { get; set; }
    [Description("Parameters of the Synthetic dataset.")]
    public SyntheticDatasetSpec? Synthetic { get; set; }
}

/// <summary>Compute for one training run: an Indexed Job of <see cref="Nodes"/> pods, one worker per GPU.</summary>
public sealed class ResourcesSpec
{
    [Range(1, 256), Description("Number of pods (nodes); the Job has completions = parallelism = nodes.")]
    public int Nodes { get; set; } = 1;
    [Range(0, 16), Description("GPUs per pod (nvidia.com/gpu); 0 trains on CPU.")]
    public int GpusPerNode { get; set; }
    [IntOrString, JsonConverter(typeof(IntOrStringConverter)), Description("CPU request and limit per pod, a Kubernetes quantity (8, 500m).")]
    public string? Cpu { get; set; }
    [IntOrString, JsonConverter(typeof(IntOrStringConverter)), Description("Memory request and limit per pod, a Kubernetes quantity (32Gi).")]
    public string? Memory { get; set; }
    [Description("Trainer image; the operator's default when empty.")]
    [MaxLength(Validation.MaxImageLength), RegularExpression(Validation.Image, ErrorMessage = Validation.ImageRule)]
    public string? Image { get; set; }
}

/// <summary>How a run is retried, bounded and cleaned up.</summary>
public sealed class RunPolicy
{
    [Range(0, 100), Description("Pod failures tolerated before the run fails.")]
    public int BackoffLimit { get; set; } = 3;
    [Range(1, int.MaxValue), Description("Seconds a run may take before it fails.")]
    public long? ActiveDeadlineSeconds { get; set; }
    [Range(0, int.MaxValue), Description("Seconds after finishing when children are removed; status is kept.")]
    public long? TtlSecondsAfterFinished { get; set; }
    [Description("Suspends the run (pods are removed, the Job is kept).")]
    public bool Suspend { get; set; }
    [Range(0, int.MaxValue), Description("Seconds a pod may stay unstarted with a reason that will not pass by itself (a missing Secret, an image that does not pull, no node that fits) before the run fails with that reason and its Job is deleted; the operator's default (600) when absent, 0 never fails.")]
    public long? PendingDeadlineSeconds { get; set; }
}

/// <summary>Re-identification metrics of the test set (FastReID's evaluator output).</summary>
public sealed class ReidMetrics
{
    [JsonPropertyName("mAP"), Description("Mean average precision.")]
    public double? MAP { get; set; }
    [Description("CMC rank-1.")] public double? Rank1 { get; set; }
    [Description("CMC rank-5.")] public double? Rank5 { get; set; }
    [Description("CMC rank-10.")] public double? Rank10 { get; set; }
    [JsonPropertyName("mINP"), Description("Mean inverse negative penalty.")]
    public double? MINP { get; set; }
}

/// <summary>URIs of what a run produced, with sha256 digests.</summary>
public sealed class ArtefactsStatus
{
    [Description("Trained model weights (model.pt).")] public string? Model { get; set; }
    [Description("Last checkpoint.")] public string? Checkpoint { get; set; }
    [Description("Effective config.yaml.")] public string? Config { get; set; }
    [Description("Exported model (e.g. export/model.onnx).")] public string? Export { get; set; }
    [Description("metrics.json of the run.")] public string? Metrics { get; set; }
    [Description("manifest.json with the digest of every file.")] public string? Manifest { get; set; }
    [Description("sha256 digests by artefact name.")] public Dictionary<string, string>? Sha256 { get; set; }
}

/// <summary>Status fields every kind has.</summary>
public class ResourceStatus
{
    [AllowedValues(Phases.Pending, Phases.Running, Phases.Succeeded, Phases.Failed), Description("Pending, Running, Succeeded or Failed.")]
    public string? Phase { get; set; }
    [Description("Latest observations, one per type.")]
    public List<Condition>? Conditions { get; set; }
    [Description("The metadata.generation last acted on.")]
    public long? ObservedGeneration { get; set; }
    public DateTimeOffset? StartTime { get; set; }
    public DateTimeOffset? CompletionTime { get; set; }
}
