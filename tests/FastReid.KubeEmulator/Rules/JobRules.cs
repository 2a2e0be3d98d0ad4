using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Rules;

/// <summary>batch/v1 Job defaulting (selector, labels, counts) and validation, as the Job REST strategy does.</summary>
internal static class JobRules
{
    public const string ControllerUidLabel = "batch.kubernetes.io/controller-uid";
    public const string JobNameLabel = "batch.kubernetes.io/job-name";
    public const string CompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index";
    public const string TrackingFinalizer = "batch.kubernetes.io/job-tracking";

    public static void PrepareForCreate(JsonObject job)
    {
        var spec = job["spec"] as JsonObject;
        job["status"] = new JsonObject();
        if (spec is null) return;
        var uid = Meta.Uid(job);
        var name = Meta.Name(job);
        if (spec["completions"] is null && spec["parallelism"] is null) spec["completions"] = 1;
        Default(job);
        if (spec["manualSelector"]?.GetValue<bool>() != true)
            spec["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { [ControllerUidLabel] = uid } };
        if (spec["template"] is JsonObject template)
        {
            var meta = template["metadata"] as JsonObject ?? new JsonObject();
            template["metadata"] = meta;
            var labels = meta["labels"] as JsonObject ?? new JsonObject();
            meta["labels"] = labels;
            labels[ControllerUidLabel] = uid;
            labels[JobNameLabel] = name;
            labels["controller-uid"] = uid;
            labels["job-name"] = name;
        }
    }

    /// <summary>Defaults applied to every write, as the apiserver's defaulters run on each decoded request.</summary>
    public static void Default(JsonObject job)
    {
        if (job["spec"] is not JsonObject spec) return;
        spec["parallelism"] ??= 1;
        spec["backoffLimit"] ??= spec["backoffLimitPerIndex"] is null ? 6 : int.MaxValue;
        spec["completionMode"] ??= "NonIndexed";
        spec["suspend"] ??= false;
        spec["podReplacementPolicy"] ??= "TerminatingOrFailed";
        if (spec["template"]?["spec"] is JsonObject podSpec) PodRules.DefaultSpec(podSpec);
    }

    public static IEnumerable<FieldError> Validate(JsonObject job)
    {
        if (job["spec"] is not JsonObject spec)
        {
            yield return FieldError.Required("spec");
            yield break;
        }
        foreach (var field in new[] { "parallelism", "completions", "backoffLimit", "activeDeadlineSeconds" })
            if (spec[field] is JsonValue v && v.TryGetValue<long>(out var n) && n < 0)
                yield return FieldError.InvalidValue($"spec.{field}", n, "must be greater than or equal to 0");
        var mode = Meta.Str(spec["completionMode"]);
        if (mode is not ("NonIndexed" or "Indexed")) yield return FieldError.Unsupported("spec.completionMode", mode, ["NonIndexed", "Indexed"]);
        if (mode == "Indexed" && spec["completions"] is null)
            yield return FieldError.Required("spec.completions", "when completion mode is Indexed");
        if (spec["template"] is not JsonObject template)
        {
            yield return FieldError.Required("spec.template");
            yield break;
        }
        foreach (var e in NameRules.ValidateLabels(Meta.StringMap(template["metadata"]?["labels"]), "spec.template.metadata.labels")) yield return e;
        foreach (var e in PodRules.ValidateSpec(template["spec"] as JsonObject, "spec.template.spec", forPod: false)) yield return e;
        var restart = Meta.Str(template["spec"]?["restartPolicy"]);
        if (restart is not ("OnFailure" or "Never"))
            yield return FieldError.Unsupported("spec.template.spec.restartPolicy", restart, ["OnFailure", "Never"]);
        if (spec["podFailurePolicy"] is JsonObject && restart != "Never")
            yield return FieldError.InvalidValue("spec.podFailurePolicy", null, "may not be specified when template.spec.restartPolicy is different than Never");
        foreach (var (rule, i) in (spec["podFailurePolicy"]?["rules"] as JsonArray ?? []).OfType<JsonObject>().Select((r, i) => (r, i)))
        {
            var action = Meta.Str(rule["action"]);
            if (action is not ("FailJob" or "Ignore" or "Count" or "FailIndex"))
                yield return FieldError.Unsupported($"spec.podFailurePolicy.rules[{i}].action", action, ["Count", "FailIndex", "FailJob", "Ignore"]);
            if (rule["onExitCodes"] is JsonObject exit && Meta.Str(exit["operator"]) is not ("In" or "NotIn"))
                yield return FieldError.Unsupported($"spec.podFailurePolicy.rules[{i}].onExitCodes.operator", Meta.Str(exit["operator"]), ["In", "NotIn"]);
        }
        var selector = LabelSelector.FromObject(spec["selector"] as JsonObject);
        if (spec["selector"] is null) yield return FieldError.Required("spec.selector");
        else if (!selector.Matches(Meta.StringMap(template["metadata"]?["labels"])))
            yield return FieldError.InvalidValue("spec.template.metadata.labels", null, "`selector` does not match template `labels`");
    }

    public static IEnumerable<FieldError> ValidateUpdate(JsonObject job, JsonObject old)
    {
        foreach (var field in new[] { "template", "selector", "completionMode", "completions", "podFailurePolicy", "backoffLimitPerIndex" })
            if (!Meta.Same(job["spec"]?[field], old["spec"]?[field]))
                yield return field == "template"
                    ? FieldError.InvalidValue("spec.template", null, "field is immutable")
                    : FieldError.Immutable($"spec.{field}");
    }
}
