using FastReid.Api.V1Alpha1;

namespace FastReid.Pipeline;

/// <summary>
/// The limits Kubernetes puts on what the operator derives from a resource (child names, pod host names, label
/// values), checked before anything is created: a name the API server would refuse becomes InvalidSpec naming
/// the field it comes from, the derived name and the limit, instead of a create that fails.
/// </summary>
public static class DerivedNames
{
    /// <summary>A DNS-1123 label (a Service name, a pod host name, a ReidExperiment's name) and a label value.</summary>
    public const int MaxLabel = 63;

    /// <summary>Adds an error on <paramref name="field"/> when <paramref name="derived"/> is longer than <paramref name="limit"/>.</summary>
    public static void Check(List<FieldError> errors, string field, string? value, string what, string derived, int limit = MaxLabel)
    {
        if (derived.Length > limit)
            errors.Add(new FieldError(field, $"'{Shown(value)}' makes {what} '{Shown(derived)}' of {derived.Length} characters; at most {limit}"));
    }

    /// <summary>The owner's name is the value of <see cref="KindDescriptor.OwnerLabel"/> on every child it makes.</summary>
    public static void CheckOwnerLabel(List<FieldError> errors, ICustomResource owner) =>
        Check(errors, "metadata.name", owner.Metadata.Name, $"the value of label {ResourceKinds.Of(owner.GetType()).OwnerLabel} on its children", owner.Metadata.Name ?? "");

    private static string Shown(string? text) => text is { Length: > 72 } ? text[..72] + "…" : text ?? "";
}
