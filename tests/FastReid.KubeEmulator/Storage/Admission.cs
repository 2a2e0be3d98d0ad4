using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Rules;
using FastReid.KubeEmulator.Schema;

namespace FastReid.KubeEmulator.Storage;

/// <summary>How unknown fields in a request are treated (the <c>fieldValidation</c> query parameter).</summary>
internal enum FieldValidation { Ignore, Warn, Strict }

/// <summary>
/// Per-kind defaulting and validation, run on every create and update the way the apiserver runs its
/// REST strategies: defaults, create-only preparation, then validation that rejects with 422 Invalid.
/// </summary>
internal sealed class Admission(Func<string> allocateServiceIp)
{
    /// <summary>Create-only preparation (status reset, generated selectors); the object already has its uid.</summary>
    public void PrepareForCreate(ResourceType type, JsonObject obj)
    {
        switch (type.StorageKey)
        {
            case "/pods": PodRules.PrepareForCreate(obj); break;
            case "/namespaces": CoreRules.PrepareNamespace(obj); break;
            case "batch/jobs": JobRules.PrepareForCreate(obj); break;
            case "apiextensions.k8s.io/customresourcedefinitions": CrdRules.MarkEstablished(obj); break;
            default:
                if (type.HasStatusSubresource) obj.Remove("status");
                break;
        }
    }

    /// <summary>Defaults, pruning and validation; throws 400/422 as the apiserver would, adds warnings for Warn.</summary>
    public void Admit(ResourceType type, JsonObject obj, JsonObject? old, FieldValidation fieldValidation, List<string> warnings)
    {
        var errors = new List<FieldError>();
        errors.AddRange(NameRules.ValidateMetadata(obj));
        switch (type.StorageKey)
        {
            case "/pods":
                if (obj["spec"] is JsonObject podSpec) PodRules.DefaultSpec(podSpec);
                errors.AddRange(PodRules.ValidateSpec(obj["spec"] as JsonObject, "spec"));
                if (old is not null) errors.AddRange(PodRules.ValidateUpdate(obj, old));
                break;
            case "batch/jobs":
                JobRules.Default(obj);
                errors.AddRange(JobRules.Validate(obj));
                if (old is not null) errors.AddRange(JobRules.ValidateUpdate(obj, old));
                break;
            case "/namespaces": CoreRules.DefaultNamespace(obj); break;
            case "apps/deployments":
                if (obj["spec"]?["template"]?["spec"] is JsonObject deploymentPods) PodRules.DefaultSpec(deploymentPods);
                errors.AddRange(PodRules.ValidateSpec(obj["spec"]?["template"]?["spec"] as JsonObject, "spec.template.spec", forPod: false));
                if (obj["spec"]?["selector"] is null) errors.Add(FieldError.Required("spec.selector"));
                else if (!LabelSelector.FromObject(obj["spec"]?["selector"] as JsonObject).Matches(Meta.StringMap(obj["spec"]?["template"]?["metadata"]?["labels"])))
                    errors.Add(FieldError.InvalidValue("spec.template.metadata.labels", null, "`selector` does not match template `labels`"));
                break;
            case "/services":
                CoreRules.DefaultService(obj, allocateServiceIp);
                errors.AddRange(CoreRules.ValidateService(obj, old));
                break;
            case "/secrets":
                CoreRules.DefaultSecret(obj);
                errors.AddRange(CoreRules.ValidateSecret(obj));
                break;
            case "/configmaps": errors.AddRange(CoreRules.ValidateConfigMap(obj)); break;
            case "apiextensions.k8s.io/customresourcedefinitions":
                CrdRules.Default(obj);
                errors.AddRange(CrdRules.Validate(obj, old));
                break;
        }
        if (!type.IsCustom) Report(BuiltinSchemas.PruneUnknown(type.StorageKey, obj), fieldValidation, warnings);
        if (type.IsCustom && type.Schema is not null)
        {
            StructuralSchema.Default(obj, type.Schema);
            Report(StructuralSchema.Prune(obj, type.Schema), fieldValidation, warnings);
            errors.AddRange(StructuralSchema.Validate(obj, type.Schema));
        }
        if (errors.Count > 0) throw ApiException.Invalid(type.Group, type.Kind, Meta.Name(obj), errors);
    }

    /// <summary>Unknown fields are already pruned; Strict turns them into a 400, Warn into Warning headers.</summary>
    static void Report(List<string> unknown, FieldValidation fieldValidation, List<string> warnings)
    {
            if (unknown.Count > 0 && fieldValidation == FieldValidation.Strict)
                throw ApiException.BadRequest("strict decoding error: " + string.Join(", ", unknown.Select(u => $"unknown field \"{u.TrimStart('.')}\"")));
            if (fieldValidation == FieldValidation.Warn)
                warnings.AddRange(unknown.Select(u => $"unknown field \"{u.TrimStart('.')}\""));
    }
}
