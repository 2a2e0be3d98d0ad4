using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;

namespace FastReid.Api.V1Alpha1;

/// <summary>One thing wrong with a resource: the JSON field path (<c>spec.resources.nodes</c>) and what is allowed.</summary>
public sealed record FieldError(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>
/// Validation of the four kinds. The attribute rules (required, ranges, enums, patterns) are the same ones the
/// CRD generator writes into the schema, so a resource the API server accepted passes them; the semantic rules
/// below (quantities, URIs, one-of) are what a schema cannot say well.
/// </summary>
public static partial class Validation
{
    public const string Dns1123Subdomain = @"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

    /// <summary>A key of a Secret or ConfigMap, as the API server checks a <c>secretKeyRef.key</c>.</summary>
    public const string SecretKey = "^[-._a-zA-Z0-9]+$";
    public const string SecretKeyRule = "must be a Secret key: letters, digits, '-', '_' or '.'";

    /// <summary>A container image reference has no whitespace (the API server refuses it around, the kubelet within).</summary>
    public const string Image = @"^\S+$";
    public const string ImageRule = "must be an image reference without whitespace (e.g. registry.example.com/fastreid-trainer:1.0)";
    public const int MaxImageLength = 512;

    public static IReadOnlyList<FieldError> Validate(ReidExperiment experiment)
    {
        var errors = new List<FieldError>();
        CheckDnsLabelName(experiment.Metadata.Name, errors);
        CheckAttributes(experiment.Spec, "spec", errors);
        CheckExperimentSpec(experiment.Spec, "spec", errors);
        return errors;
    }

    public static IReadOnlyList<FieldError> Validate(DistillJob job)
    {
        var errors = new List<FieldError>();
        CheckAttributes(job.Spec, "spec", errors);
        for (int i = 0; i < job.Spec.Teachers.Count; i++)
            CheckModelSource(job.Spec.Teachers[i], $"spec.teachers[{i}]", errors);
        CheckExperimentSpec(job.Spec.Student, "spec.student", errors);
        return errors;
    }

    public static IReadOnlyList<FieldError> Validate(TuneSweep sweep)
    {
        var errors = new List<FieldError>();
        var spec = sweep.Spec;
        CheckAttributes(spec, "spec", errors);
        CheckExperimentSpec(spec.Template, "spec.template", errors);
        if (spec.SearchSpace.Count == 0)
            errors.Add(new("spec.searchSpace", "needs at least one parameter"));
        foreach (var (key, parameter) in spec.SearchSpace)
            CheckSearchParameter(parameter, $"spec.searchSpace[\"{key}\"]", errors);
        if (spec.MaxFailedTrials > spec.MaxTrials)
            errors.Add(new("spec.maxFailedTrials", $"must not exceed spec.maxTrials ({spec.MaxTrials}), got {spec.MaxFailedTrials}"));
        if (spec.Budget is { } budget && spec.SearchSpace.ContainsKey(budget.Key))
            errors.Add(new("spec.budget.key", $"'{budget.Key}' is set by the algorithm's budget and cannot also be searched"));
        return errors;
    }

    public static IReadOnlyList<FieldError> Validate(ExportJob job)
    {
        var errors = new List<FieldError>();
        CheckAttributes(job.Spec, "spec", errors);
        CheckModelSource(job.Spec.Source, "spec.source", errors);
        if (job.Spec.Output is not null) CheckOutput(job.Spec.Output, "spec.output", errors);
        CheckQuantity(job.Spec.Resources.Cpu, "spec.resources.cpu", errors);
        CheckQuantity(job.Spec.Resources.Memory, "spec.resources.memory", errors);
        return errors;
    }

    private static void CheckExperimentSpec(ReidExperimentSpec spec, string path, List<FieldError> errors)
    {
        if (spec.Dataset.Name != "Synthetic" && string.IsNullOrEmpty(spec.Dataset.Uri))
            errors.Add(new($"{path}.dataset.uri", $"is required for dataset '{spec.Dataset.Name}' (only Synthetic is generated)"));
        if (spec.Dataset.Uri is { Length: > 0 } uri) CheckLocation(uri, $"{path}.dataset.uri", errors);
        CheckQuantity(spec.Resources.Cpu, $"{path}.resources.cpu", errors);
        CheckQuantity(spec.Resources.Memory, $"{path}.resources.memory", errors);
        if (spec.Output is not null) CheckOutput(spec.Output, $"{path}.output", errors);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial System.Text.RegularExpressions.Regex Dns1123Label();

    /// <summary>Experiments name their Job, Service and pod host names, so their own name must be a DNS label.</summary>
    private static void CheckDnsLabelName(string? name, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(name)) errors.Add(new("metadata.name", "is required"));
        else if (name.Length > 63 || !Dns1123Label().IsMatch(name))
            errors.Add(new("metadata.name", $"must be a DNS label (lower-case letters, digits, '-', at most 63 characters), got '{name}'"));
    }

    private static void CheckOutput(OutputSpec output, string path, List<FieldError> errors)
    {
        if (output.Uri.Length > 0) CheckLocation(output.Uri, $"{path}.uri", errors);
        bool s3 = output.Uri.StartsWith("s3://", StringComparison.Ordinal);
        if (!s3 && output.SecretRef is not null)
            errors.Add(new($"{path}.secretRef", "is only used with s3:// outputs"));
        if (!s3 && output.Endpoint is not null)
            errors.Add(new($"{path}.endpoint", "is only used with s3:// outputs"));
        if (output.Endpoint is { } endpoint && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https"))
            errors.Add(new($"{path}.endpoint", $"must be an http:// or https:// URL, got '{endpoint}'"));
        if (output.Endpoint is { } withCredentials && withCredentials.Contains('@', StringComparison.Ordinal))
            errors.Add(new($"{path}.endpoint", "must not carry credentials; reference a Secret in secretRef"));
    }

    private static void CheckModelSource(ModelSource source, string path, List<FieldError> errors)
    {
        bool byRef = source.ExperimentRef is not null, byUri = source.ModelUri is not null;
        if (byRef == byUri)
            errors.Add(new(path, "give exactly one of experimentRef or modelUri (with configUri)"));
        if (byUri && source.ConfigUri is null)
            errors.Add(new($"{path}.configUri", "is required with modelUri"));
        if (!byUri && source.ConfigUri is not null)
            errors.Add(new($"{path}.configUri", "is only used with modelUri"));
        if (source.ModelUri is { } model) CheckLocation(model, $"{path}.modelUri", errors);
        if (source.ConfigUri is { } config) CheckLocation(config, $"{path}.configUri", errors);
    }

    private static void CheckSearchParameter(SearchParameter parameter, string path, List<FieldError> errors)
    {
        if (parameter.Type == "fixed")
        {
            if (parameter.Values is not { Count: 1 })
                errors.Add(new($"{path}.values", "fixed takes exactly one value (values: [X])"));
            return;
        }
        if (parameter.Type == "choice")
        {
            if (parameter.Values is not { Count: > 0 })
                errors.Add(new($"{path}.values", "choice needs at least one value"));
            return;
        }
        if (parameter.Min is not { } min) { errors.Add(new($"{path}.min", $"is required for {parameter.Type}")); return; }
        if (parameter.Max is not { } max) { errors.Add(new($"{path}.max", $"is required for {parameter.Type}")); return; }
        if (min >= max)
            errors.Add(new($"{path}.max", $"must be greater than min ({Format(min)}), got {Format(max)}"));
        if (parameter.Type == "loguniform" && min <= 0)
            errors.Add(new($"{path}.min", $"loguniform needs min > 0, got {Format(min)}"));
        if (parameter.Type == "quniform" && parameter.Step is null)
            errors.Add(new($"{path}.step", "is required for quniform"));
    }

    private static void CheckQuantity(string? quantity, string path, List<FieldError> errors)
    {
        if (quantity is null) return;
        if (!Quantity.TryParse(quantity, out var value))
            errors.Add(new(path, $"'{quantity}' is not a Kubernetes quantity (examples: 8, 500m, 32Gi)"));
        else if (value <= 0)
            errors.Add(new(path, $"must be greater than zero, got '{quantity}'"));
    }

    /// <summary>True for <c>s3://bucket[/prefix]</c>, <c>pvc://CLAIM[/path]</c>, <c>file:///abs</c> and absolute paths (<see cref="StorageLocation"/>).</summary>
    public static bool IsStorageUri(string uri) => StorageLocation.TryParse(uri, out _) is not null;

    private static void CheckLocation(string uri, string path, List<FieldError> errors)
    {
        if (StorageLocation.TryParse(uri, out var error) is null) errors.Add(new(path, error!));
    }

    /// <summary>
    /// What a run on the cluster refuses besides <see cref="Validate(ReidExperiment)"/>: a local path in a URI field. A
    /// pod has its image and its volumes only, so a dataset or model at a path of the machine that wrote the spec is
    /// not there, and an output written to one would vanish with the pod's emptyDir while the status named it. Added
    /// to <paramref name="errors"/> under <paramref name="path"/> (<c>spec</c>, <c>spec.student</c>, <c>spec.template</c>).
    /// </summary>
    public static void CheckClusterLocations(ReidExperimentSpec spec, string path, List<FieldError> errors)
    {
        CheckClusterLocation(spec.Dataset.Uri, $"{path}.dataset.uri", errors);
        CheckClusterLocation(spec.Output?.Uri, $"{path}.output.uri", errors);
    }

    /// <summary><see cref="CheckClusterLocations(ReidExperimentSpec, string, List{FieldError})"/> for a teacher's or an export's source.</summary>
    public static void CheckClusterLocations(ModelSource source, string path, List<FieldError> errors)
    {
        CheckClusterLocation(source.ModelUri, $"{path}.modelUri", errors);
        CheckClusterLocation(source.ConfigUri, $"{path}.configUri", errors);
    }

    /// <summary>A local path (<c>/abs</c>, <c>file:///abs</c>) named by <paramref name="path"/>, refused with what to use instead.</summary>
    public static void CheckClusterLocation(string? uri, string path, List<FieldError> errors)
    {
        if (uri is { Length: > 0 } && StorageLocation.TryParse(uri, out _) is { IsLocal: true })
            errors.Add(new(path, $"'{uri}' is a local path, which a cluster pod does not have (files written there vanish with the pod); use s3://bucket/prefix or pvc://CLAIM/path (a PersistentVolumeClaim of this namespace)"));
    }

    /// <summary>
    /// What a run on one machine (<c>fastreid tune</c>) refuses: a <c>pvc://</c> URI, which names a claim only a
    /// cluster mounts. The mirror of <see cref="CheckClusterLocations(ReidExperimentSpec, string, List{FieldError})"/>.
    /// </summary>
    public static void CheckLocalLocations(ReidExperimentSpec spec, string path, List<FieldError> errors)
    {
        CheckLocalLocation(spec.Dataset.Uri, $"{path}.dataset.uri", errors);
        CheckLocalLocation(spec.Output?.Uri, $"{path}.output.uri", errors);
    }

    /// <summary><see cref="CheckLocalLocations(ReidExperimentSpec, string, List{FieldError})"/> for a teacher's or an export's source.</summary>
    public static void CheckLocalLocations(ModelSource source, string path, List<FieldError> errors)
    {
        CheckLocalLocation(source.ModelUri, $"{path}.modelUri", errors);
        CheckLocalLocation(source.ConfigUri, $"{path}.configUri", errors);
    }

    /// <summary>A <c>pvc://</c> URI named by <paramref name="path"/>, refused on one machine with what to use instead.</summary>
    public static void CheckLocalLocation(string? uri, string path, List<FieldError> errors)
    {
        if (uri is { Length: > 0 } && StorageLocation.TryParse(uri, out _) is { IsPvc: true })
            errors.Add(new(path, $"'{uri}' names a PersistentVolumeClaim, which only a cluster mounts; on this machine give a folder (an absolute path) or s3://bucket/prefix"));
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Checks the data-annotation rules on every property, recursively, naming each error by its JSON path.</summary>
    public static void CheckAttributes(object? value, string path, List<FieldError> errors)
    {
        if (value is null || value is JsonNode || value is string || value.GetType().IsPrimitive) return;
        foreach (var property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0) continue;
            var propertyPath = $"{path}.{ApiJson.NameOf(property)}";
            var propertyValue = property.GetValue(value);
            CheckProperty(property, propertyValue, propertyPath, errors);
            switch (propertyValue)
            {
                case null or string or JsonNode: break;
                case IDictionary dictionary:
                    foreach (DictionaryEntry entry in dictionary)
                        CheckAttributes(entry.Value, $"{propertyPath}[\"{entry.Key}\"]", errors);
                    break;
                case IList list:
                    for (int i = 0; i < list.Count; i++) CheckAttributes(list[i], $"{propertyPath}[{i}]", errors);
                    break;
                default:
                    if (property.PropertyType.Namespace == typeof(Validation).Namespace)
                        CheckAttributes(propertyValue, propertyPath, errors);
                    break;
            }
        }
    }

    private static void CheckProperty(PropertyInfo property, object? value, string path, List<FieldError> errors)
    {
        if (property.GetCustomAttribute<RequiredAttribute>() is not null && (value is null || value is "" || value is ICollection { Count: 0 } && property.GetCustomAttribute<MinLengthAttribute>() is null))
        {
            errors.Add(new(path, "is required"));
            return;
        }
        if (value is null) return;
        if (property.GetCustomAttribute<MinLengthAttribute>() is { } minLength && value is ICollection collection && collection.Count < minLength.Length)
            errors.Add(new(path, $"needs at least {minLength.Length} item(s), got {collection.Count}"));
        if (property.GetCustomAttribute<MaxLengthAttribute>() is { } maxLength)
        {
            int length = value switch { string s => s.Length, ICollection c => c.Count, _ => 0 };
            if (length > maxLength.Length)
                errors.Add(new(path, $"may have at most {maxLength.Length} {(value is string ? "characters" : "items")}, got {length}"));
        }
        if (property.GetCustomAttribute<AllowedValuesAttribute>() is { } allowed && !allowed.Values.Contains(value))
            errors.Add(new(path, $"must be one of {string.Join(", ", allowed.Values)}; got '{value}'"));
        if (property.GetCustomAttribute<RegularExpressionAttribute>() is { } pattern && value is string text
            && !System.Text.RegularExpressions.Regex.IsMatch(text, pattern.Pattern))
            errors.Add(new(path, pattern.ErrorMessage is { } rule ? $"{rule}, got '{text}'" : $"'{text}' does not match {pattern.Pattern}"));
        if (property.GetCustomAttribute<RangeAttribute>() is { } range && value is IConvertible number and not string)
        {
            double v = number.ToDouble(CultureInfo.InvariantCulture);
            double lo = Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture), hi = Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture);
            bool low = range.MinimumIsExclusive ? v <= lo : v < lo;
            bool high = range.MaximumIsExclusive ? v >= hi : v > hi;
            if (low || high)
                errors.Add(new(path, $"must be in {(range.MinimumIsExclusive ? "(" : "[")}{Format(lo)}, {Format(hi)}{(range.MaximumIsExclusive ? ")" : "]")}, got {Format(v)}"));
        }
    }
}
