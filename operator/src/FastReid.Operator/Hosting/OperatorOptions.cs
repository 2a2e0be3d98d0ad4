using System.Globalization;
using FastReid.Api.V1Alpha1;

namespace FastReid.Operator.Hosting;

/// <summary>A wrong flag: the message names it and what it accepts.</summary>
public sealed class OptionsException(string message) : Exception(message);

/// <summary>Command-line settings of <c>fastreid-operator run</c>.</summary>
public sealed record OperatorOptions
{
    public string? Kubeconfig { get; init; }
    /// <summary>Watch only this namespace; null watches all namespaces.</summary>
    public string? Namespace { get; init; }
    public bool LeaderElection { get; init; } = true;
    public string LeaderElectionNamespace { get; init; } = "default";
    public string LeaderElectionId { get; init; } = "fastreid-operator";
    public string Identity { get; init; } = Environment.MachineName + "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
    /// <summary>Port of /metrics, /healthz and /readyz; 0 serves nothing.</summary>
    public int MetricsPort { get; init; } = 8080;
    public string MetricsAddress { get; init; } = "0.0.0.0";
    /// <summary>Concurrent reconciles: each mostly waits on the API server, so a burst wants more of them than cores.</summary>
    public int Workers { get; init; } = 8;
    public string TrainerImage { get; init; } = "fastreid-trainer:latest";
    public OutputSpec? DefaultStorage { get; init; }
    public int MasterPort { get; init; } = 29500;
    /// <summary>The pending deadline of runs whose runPolicy has none; 0 never fails a stuck run.</summary>
    public int PendingDeadlineSeconds { get; init; } = 600;
    /// <summary>Port of the trainers' metrics page, read into status.progress; 0 = no progress.</summary>
    public int TrainerMetricsPort { get; init; } = 9400;

    public const string Usage = """
        Usage: fastreid-operator run [options]
               fastreid-operator crds [--output DIR]

        Options of run:
          --kubeconfig FILE                 kubeconfig (default: $KUBECONFIG, in-cluster config, ~/.kube/config)
          --namespace NS                    watch only NS (default: all namespaces)
          --leader-elect[=true|false]       hold a Lease so one replica reconciles (default: true)
          --leader-election-namespace NS    namespace of the Lease (default: $POD_NAMESPACE or default)
          --leader-election-id NAME         name of the Lease (default: fastreid-operator)
          --identity NAME                   this replica's name in the Lease (default: $POD_NAME or host-pid)
          --metrics-port N                  port of /metrics, /healthz, /readyz; 0 = none (default: 8080)
          --metrics-address ADDR            address to listen on (default: 0.0.0.0)
          --workers N                       concurrent reconciles (default: 8)
          --trainer-image IMAGE             trainer image when spec.resources.image is empty
          --default-storage URI             s3://bucket/prefix or pvc://CLAIM/path for experiments without spec.output
          --default-storage-endpoint URL    S3 endpoint of the default storage
          --default-storage-secret NAME     Secret with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for it
          --master-port N                   torch.distributed rendezvous port (default: 29500)
          --pending-deadline-seconds N      fail a run whose pod is stuck unstarted this long, when its
                                            runPolicy.pendingDeadlineSeconds is absent; 0 = never (default: 600)
          --trainer-metrics-port N          port rank 0 of each training serves metrics on, read into
                                            status.progress every 15 s; 0 = none (default: 9400)
        """;

    public static OperatorOptions Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new OptionsException($"unexpected argument '{arg}'");
            var body = arg[2..];
            var eq = body.IndexOf('=');
            string name = eq >= 0 ? body[..eq] : body;
            string value;
            if (eq >= 0) value = body[(eq + 1)..];
            else if (name == "leader-elect") value = "true";
            else if (i + 1 < args.Count) value = args[++i];
            else throw new OptionsException($"--{name} needs a value");
            if (!values.TryAdd(name, value)) throw new OptionsException($"--{name} is given twice");
        }

        string? Take(string name) => values.Remove(name, out var v) ? v : null;
        int Int(string name, int fallback, int min, int max)
        {
            if (Take(name) is not { } text) return fallback;
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
                throw new OptionsException($"--{name} must be an integer in [{min}, {max}], got '{text}'");
            return v;
        }

        var defaults = new OperatorOptions();
        var options = new OperatorOptions
        {
            Kubeconfig = Take("kubeconfig") ?? environment("KUBECONFIG"),
            Namespace = Take("namespace") is { Length: > 0 } ns ? ns : null,
            LeaderElection = Take("leader-elect") switch
            {
                null or "true" => true,
                "false" => false,
                var other => throw new OptionsException($"--leader-elect takes true or false, got '{other}'"),
            },
            LeaderElectionNamespace = Take("leader-election-namespace") ?? environment("POD_NAMESPACE") ?? defaults.LeaderElectionNamespace,
            LeaderElectionId = Take("leader-election-id") ?? defaults.LeaderElectionId,
            Identity = Take("identity") ?? environment("POD_NAME") ?? defaults.Identity,
            MetricsPort = Int("metrics-port", defaults.MetricsPort, 0, 65535),
            MetricsAddress = Take("metrics-address") ?? defaults.MetricsAddress,
            Workers = Int("workers", defaults.Workers, 1, 64),
            TrainerImage = Take("trainer-image") ?? defaults.TrainerImage,
            MasterPort = Int("master-port", defaults.MasterPort, 1, 65535),
            PendingDeadlineSeconds = Int("pending-deadline-seconds", defaults.PendingDeadlineSeconds, 0, int.MaxValue),
            TrainerMetricsPort = Int("trainer-metrics-port", defaults.TrainerMetricsPort, 0, 65535),
        };
        if (!System.Text.RegularExpressions.Regex.IsMatch(options.TrainerImage, Validation.Image))
            throw new OptionsException($"--trainer-image {Validation.ImageRule}, got '{options.TrainerImage}'");
        var storage = Take("default-storage");
        var endpoint = Take("default-storage-endpoint");
        var secret = Take("default-storage-secret");
        if (storage is not null)
        {
            var output = new OutputSpec
            {
                Uri = storage,
                Endpoint = endpoint,
                SecretRef = secret is null ? null : new SecretReference { Name = secret },
            };
            var errors = new List<FieldError>();
            Validation.CheckAttributes(output, "default-storage", errors);
            if (!Validation.IsStorageUri(storage)) errors.Add(new FieldError("default-storage", $"must be s3://bucket/prefix or pvc://CLAIM/path, got '{storage}'"));
            else Validation.CheckClusterLocation(storage, "default-storage", errors);
            if (errors.Count > 0) throw new OptionsException("--" + errors[0]);
            options = options with { DefaultStorage = output };
        }
        else if (endpoint is not null || secret is not null)
        {
            throw new OptionsException("--default-storage-endpoint and --default-storage-secret need --default-storage");
        }
        if (values.Count > 0) throw new OptionsException($"unknown option --{values.Keys.First()}");
        return options;
    }
}
