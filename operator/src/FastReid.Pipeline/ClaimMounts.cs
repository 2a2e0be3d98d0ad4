using FastReid.Api.V1Alpha1;
using k8s.Models;

namespace FastReid.Pipeline;

/// <summary>
/// The PersistentVolumeClaims a trainer pod uses, from the <c>pvc://CLAIM/path</c> URIs it reads and writes.
/// <list type="bullet">
/// <item>Each claim is mounted whole at <c>/mnt/pvc/CLAIM</c>, one volume per claim, so the trainer is given plain
/// paths (<see cref="PodPath"/>: OUTPUT_DIR, FASTREID_DATASETS, MODEL.WEIGHTS, KD.MODEL_WEIGHTS, --output) and the
/// paths in its result map back to pvc:// URIs (<see cref="UriOf"/>) for the status that users and other resources read.</item>
/// <item>A claim only read (datasets, teachers, an export's source) is mounted read-only, volume and mount both; a
/// claim written (an output) read-write. A claim both read and written by one pod (a dataset beside the outputs) is
/// one read-write mount: a claim has one place in the pod, and the trainer writes only below OUTPUT_DIR.</item>
/// <item>Whether the claim can be mounted where the pods run (ReadWriteOnce on one node; ReadWriteMany or
/// ReadOnlyMany for pods on several nodes) is the cluster's to say: the pod stays Pending with the scheduler's reason.</item>
/// </list>
/// </summary>
public sealed class ClaimMounts
{
    public const string MountRoot = "/mnt/pvc";
    public const string VolumePrefix = "pvc-";

    private readonly SortedDictionary<string, bool> _writes; // claim → written by the pod

    private ClaimMounts(SortedDictionary<string, bool> writes) => _writes = writes;

    public static readonly ClaimMounts None = new(new SortedDictionary<string, bool>(StringComparer.Ordinal));

    /// <summary>The claims of the pvc:// URIs among <paramref name="reads"/> and <paramref name="writes"/> (other URIs and nulls are skipped).</summary>
    public static ClaimMounts Of(IEnumerable<string?> reads, IEnumerable<string?> writes)
    {
        var claims = new SortedDictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (uri, written) in reads.Select(u => (u, false)).Concat(writes.Select(u => (u, true))))
            if (uri is not null && Claim(uri) is { } claim)
                claims[claim] = written || claims.GetValueOrDefault(claim);
        return new ClaimMounts(claims);
    }

    /// <summary>The claim names in order, each with whether the pod writes to it.</summary>
    public IReadOnlyDictionary<string, bool> Claims => _writes;

    /// <summary>Where a URI is in the pod: a pvc:// URI's path under its claim's mount; any other URI as it is.</summary>
    public static string PodPath(string uri)
    {
        if (!uri.StartsWith(StorageLocation.PvcScheme, StringComparison.Ordinal)) return uri;
        var location = StorageLocation.TryParse(uri, out var error) ?? throw new ArgumentException(error, nameof(uri)); // validated before planning
        return location.Path.Length == 0 ? MountPath(location.Claim!) : $"{MountPath(location.Claim!)}/{location.Path}";
    }

    /// <summary>The pvc:// URI of a path the trainer reported under a claim's mount; any other path or URI as it is.</summary>
    public static string? UriOf(string? podPath)
    {
        if (podPath is null || !podPath.StartsWith(MountRoot + "/", StringComparison.Ordinal)) return podPath;
        var rest = podPath[(MountRoot.Length + 1)..];
        var slash = rest.IndexOf('/');
        return slash < 0 ? StorageLocation.PvcUri(rest, "") : StorageLocation.PvcUri(rest[..slash], rest[(slash + 1)..].TrimEnd('/'));
    }

    public static string MountPath(string claim) => $"{MountRoot}/{claim}";

    /// <summary>One volume per claim, named <c>pvc-0</c>, <c>pvc-1</c>, … in claim-name order (a claim name may be longer than a volume name may).</summary>
    public IEnumerable<V1Volume> Volumes() => _writes.Select((claim, i) => new V1Volume
    {
        Name = VolumePrefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture),
        PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = claim.Key, ReadOnlyProperty = claim.Value ? null : true },
    });

    public IEnumerable<V1VolumeMount> Mounts() => _writes.Select((claim, i) => new V1VolumeMount
    {
        Name = VolumePrefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture),
        MountPath = MountPath(claim.Key),
        ReadOnlyProperty = claim.Value ? null : true,
    });

    private static string? Claim(string uri) =>
        uri.StartsWith(StorageLocation.PvcScheme, StringComparison.Ordinal) ? StorageLocation.TryParse(uri, out _)?.Claim : null;
}
