using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;

namespace FastReid.Pipeline.Distill;

/// <summary>
/// The student ReidExperiment a DistillJob owns: <c>spec.student</c> with the config keys the operator sets
/// from <c>spec.teachers</c> and <c>spec.kd</c> — FastReID's <c>MODEL.META_ARCHITECTURE</c> (Distiller, or
/// DistillerOverhaul with <c>kd.overhaul.enabled</c>) and <c>KD.MODEL_CONFIG</c> / <c>KD.MODEL_WEIGHTS</c>,
/// our <c>KD.MODEL_CONFIG_SHA256</c> / <c>KD.MODEL_WEIGHTS_SHA256</c> (aligned lists; "" where a digest is
/// unknown, which the trainer does not check) and <c>KD.TEMPERATURE</c> / <c>KD.LOSS_WEIGHT</c>. The rest
/// of the KD group (<c>KD.EMA.*</c>, <c>KD.OVERHAUL.LOSS_WEIGHT</c>) is the user's.
/// </summary>
public static class DistillStudent
{
    public const string Distiller = "Distiller";
    public const string DistillerOverhaul = "DistillerOverhaul";

    /// <summary>The keys the operator owns, each with the field of the DistillJob that says it.</summary>
    public static readonly IReadOnlyList<(string Key, string From)> OwnedKeys =
    [
        ("MODEL.META_ARCHITECTURE", "spec.kd.overhaul.enabled (Distiller or DistillerOverhaul)"),
        ("KD.MODEL_CONFIG", "spec.teachers"),
        ("KD.MODEL_WEIGHTS", "spec.teachers"),
        ("KD.MODEL_CONFIG_SHA256", "spec.teachers"),
        ("KD.MODEL_WEIGHTS_SHA256", "spec.teachers"),
        ("KD.TEMPERATURE", "spec.kd.temperature"),
        ("KD.LOSS_WEIGHT", "spec.kd.weight"),
    ];

    public static string Architecture(KdSpec kd) => kd.Overhaul.Enabled ? DistillerOverhaul : Distiller;

    /// <summary>
    /// Every problem of the DistillJob, each naming its field: the API rules, the keys the operator owns, a
    /// teacher that is the student itself, and whatever the student's own controller would refuse (config keys,
    /// output, rendered size), named under <c>spec.student</c>.
    /// </summary>
    public static List<FieldError> Validate(DistillJob job, PlannerOptions options)
    {
        var errors = new List<FieldError>(Validation.Validate(job));
        var student = DistillNames.StudentName(job);
        DerivedNames.CheckOwnerLabel(errors, job);
        DerivedNames.Check(errors, "metadata.name", job.Metadata.Name, "the student ReidExperiment's name", student);
        for (int i = 0; i < job.Spec.Teachers.Count; i++)
        {
            if (job.Spec.Teachers[i].ExperimentRef?.Name == student)
                errors.Add(new($"spec.teachers[{i}].experimentRef.name", $"names {student}, the student this DistillJob trains"));
            // a teacher on a claim is mounted read-only into the student's pods (its KD keys name the mounted paths)
            options.CheckLocations(job.Spec.Teachers[i], $"spec.teachers[{i}]", errors);
        }
        var config = job.Spec.Student.Config ?? [];
        foreach (var (key, from) in OwnedKeys.Where(k => SpecConfig.Sets(config, k.Key)))
            errors.Add(new($"spec.student.config.{key}", $"is set by the operator from {from}; remove it from the config"));

        var asExperiment = new ReidExperiment
        {
            Metadata = new ObjectMeta { Name = student, Namespace = job.Metadata.Namespace, Uid = job.Metadata.Uid },
            Spec = job.Spec.Student,
        };
        var studentErrors = new List<FieldError>();
        ReidExperimentPlanner.Resolve(asExperiment, options, studentErrors);
        errors.AddRange(studentErrors.Select(e => e with { Path = e.Path.StartsWith("spec.", StringComparison.Ordinal) ? "spec.student." + e.Path[5..] : e.Path }));
        return errors;
    }

    /// <summary>The student: named after the DistillJob, owned by it (the garbage collector removes it with it), labelled with its name.</summary>
    public static ReidExperiment Experiment(DistillJob job, IReadOnlyList<TeacherStatus> teachers)
    {
        var spec = ApiJson.Deserialize<ReidExperimentSpec>(ApiJson.Serialize(job.Spec.Student)); // a copy: the planner's input stays as it was
        spec.Config = Config(spec.Config ?? [], job.Spec.Kd, teachers);
        return new ReidExperiment
        {
            Metadata = new ObjectMeta
            {
                Name = DistillNames.StudentName(job),
                Namespace = job.Metadata.Namespace,
                Labels = DistillNames.Labels(job),
                OwnerReferences = [ChildObjects.CustomOwnerReference(job)],
            },
            Spec = spec,
        };
    }

    /// <summary>Sets the owned keys in <paramref name="config"/> (nested, inside the groups the user wrote) and returns it.</summary>
    public static JsonObject Config(JsonObject config, KdSpec kd, IReadOnlyList<TeacherStatus> teachers)
    {
        Set(config, "MODEL.META_ARCHITECTURE", Architecture(kd));
        Set(config, "KD.MODEL_CONFIG", Strings(teachers.Select(t => t.Config)));
        Set(config, "KD.MODEL_WEIGHTS", Strings(teachers.Select(t => t.Model)));
        Set(config, "KD.MODEL_CONFIG_SHA256", Strings(teachers.Select(t => t.ConfigSha256)));
        Set(config, "KD.MODEL_WEIGHTS_SHA256", Strings(teachers.Select(t => t.ModelSha256)));
        Set(config, "KD.TEMPERATURE", kd.Temperature);
        Set(config, "KD.LOSS_WEIGHT", kd.Weight);
        return config;
    }

    private static JsonArray Strings(IEnumerable<string?> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v ?? ""))]);

    private static void Set(JsonObject tree, string key, JsonNode value) => SpecConfig.Set(tree, key, value);
}
