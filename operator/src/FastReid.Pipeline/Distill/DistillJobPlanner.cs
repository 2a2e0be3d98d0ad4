using System.Globalization;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;

namespace FastReid.Pipeline.Distill;

/// <summary>
/// The DistillJob controller's decisions, as a pure function of the DistillJob, its observed student
/// ReidExperiment, and the ReidExperiments it names, looked up by name (null when there is none): its teachers,
/// and whatever holds the student's name. Waits until every teacher has succeeded, then creates one student
/// ReidExperiment whose config selects FastReID's Distiller with the teachers' artefacts and sha256 digests
/// (<see cref="DistillStudent"/>), and mirrors the student's phase, conditions, metrics and artefacts.
/// The teachers are resolved once per generation and kept in the status, so a teacher retrained later does not
/// retrain the student; a spec change resolves them again and updates the student's spec in place (its own
/// controller retrains it; teachers are never touched). Level-triggered: planning twice on the same input gives
/// the same plan.
/// </summary>
public static class DistillJobPlanner
{
    /// <summary>The student's condition types the DistillJob shows as its own (messages prefixed with the student's name).</summary>
    private static readonly string[] Mirrored =
        [ConditionTypes.Running, ConditionTypes.PodsReady, ConditionTypes.Restarting, ConditionTypes.Suspended, ConditionTypes.Succeeded, ConditionTypes.Failed];

    public static Plan<DistillJobStatus> Plan(DistillJob job, ObservedChildren observed, Func<string, ReidExperiment?> experiments, PlannerOptions? options = null)
    {
        options ??= new PlannerOptions();
        if (job.Metadata.DeletionTimestamp is not null)
            return RunLifecycle.Deleting(job.Status ?? new DistillJobStatus()); // the garbage collector removes the student

        var errors = DistillStudent.Validate(job, options);
        if (errors.Count > 0)
            return Reject(job, errors, observed.Now);
        return new PlanContext(job, observed, experiments).Plan();
    }

    /// <summary>InvalidSpec naming the fields; nothing is created or updated (a student of an earlier, valid generation keeps going).</summary>
    public static Plan<DistillJobStatus> Reject(DistillJob job, IReadOnlyList<FieldError> errors, DateTimeOffset now) =>
        RunLifecycle.Invalid(job, errors, now);

    /// <summary>The ReidExperiments a DistillJob reads besides its own child: its teachers, and the student's name (to tell when another resource holds it).</summary>
    public static IEnumerable<string> References(DistillJob job) =>
        job.Spec.Teachers.Select(t => t.ExperimentRef?.Name).OfType<string>().Where(n => n.Length > 0)
            .Append(DistillNames.StudentName(job)).Distinct(StringComparer.Ordinal);

    private sealed class PlanContext(DistillJob job, ObservedChildren observed, Func<string, ReidExperiment?> experiments)
    {
        private readonly RunLook<DistillJobStatus> _look = new(job, DistillNames.Run(job), observed.Now);
        private readonly string _student = DistillNames.StudentName(job);
        private readonly string _namespace = job.Metadata.Namespace ?? "default";
        private DistillJobStatus Previous => _look.Previous;
        private DistillJobStatus Status => _look.Status;
        private bool SameRun => _look.SameRun;
        private string NotStarted => $"ReidExperiment {_student} has not started training this spec yet";
        private List<ChildAction> Actions => _look.Actions;
        private List<PlannedEvent> Events => _look.Events;

        public Plan<DistillJobStatus> Plan()
        {
            if (Conditions.Find(Status.Conditions, ConditionTypes.InvalidSpec) is not null)
                SetCondition(ConditionTypes.InvalidSpec, false, "SpecValid", "the spec is valid");
            if (!SameRun && Previous.Run is not null)
                Events.Add(new(PlannedEvent.Normal, "SpecChanged",
                    $"generation {_look.Generation} changes the distillation: the teachers are resolved again and student {_student} is updated (only the student retrains)"));

            var teachers = ResolveTeachers(out bool teacherFailed);
            if (teachers is not null)
                Student(teachers);
            // A failed teacher has its own Warning event instead of a second one for the phase.
            return _look.ToPlan(null, transitions: !teacherFailed);
        }

        /// <summary>The teachers as pinned for this run, or resolved now; null (status says why) while one is missing, training or failed.</summary>
        private List<TeacherStatus>? ResolveTeachers(out bool failed)
        {
            failed = false;
            var spec = job.Spec.Teachers;
            if (SameRun && Previous.Teachers is { } pinned && pinned.Count == spec.Count && Conditions.IsTrue(Previous.Conditions, ConditionTypes.TeachersReady))
                return pinned; // resolved for this generation already: a teacher retrained since does not change the student

            var looks = spec.Select(t => ModelSources.Look(t, t.ExperimentRef is { } r ? experiments(r.Name) : null, _namespace)).ToList();
            var before = SameRun ? Conditions.Find(Previous.Conditions, ConditionTypes.TeachersReady) : null;
            if (looks.FirstOrDefault(l => l.Failed) is { } failure)
            {
                failed = true;
                SetCondition(ConditionTypes.TeachersReady, false, "TeacherFailed", failure.Message);
                _look.Fail("TeacherFailed", failure.Message);
                if (before is not { Reason: "TeacherFailed" } || before.Message != failure.Message)
                    Events.Add(new(PlannedEvent.Warning, "TeacherFailed", failure.Message));
                return null;
            }
            // A teacher that failed and is retried: the DistillJob waits again instead of staying failed.
            if (Conditions.Find(Status.Conditions, ConditionTypes.Failed) is { Reason: "TeacherFailed" })
                Status.Conditions!.RemoveAll(c => c.Type == ConditionTypes.Failed);

            var waiting = looks.Where(l => l.Model is null).ToList();
            if (waiting.Count > 0)
            {
                var reason = "Teacher" + (waiting.Any(l => l.State == ModelSources.NotFound) ? ModelSources.NotFound : waiting[0].State);
                var message = string.Join("; ", waiting.Select(l => l.Message)) + "; the student starts when every teacher has succeeded";
                Status.Phase = Phases.Pending;
                SetCondition(ConditionTypes.TeachersReady, false, reason, message);
                if (before?.Reason != reason || before.Message != message)
                    Events.Add(new(PlannedEvent.Normal, reason, message));
                return null;
            }

            var teachers = looks.Select(l => Teacher(l.Model!)).ToList();
            Status.Teachers = teachers;
            Status.TeacherMAP = teachers.Select(t => t.Metrics?.MAP).Max();
            SetCondition(ConditionTypes.TeachersReady, true, "TeachersSucceeded",
                $"{teachers.Count} teacher(s): {string.Join("; ", looks.Select(l => l.Message))}");
            return teachers;
        }

        private static TeacherStatus Teacher(ResolvedModel model) => new()
        {
            Experiment = model.Experiment,
            Model = model.Model,
            Config = model.Config,
            ModelSha256 = model.ModelSha256 ?? "",
            ConfigSha256 = model.ConfigSha256 ?? "",
            Metrics = model.Metrics,
        };

        /// <summary>Create the student, put its spec back to the plan, or follow it.</summary>
        private void Student(List<TeacherStatus> teachers)
        {
            var desired = DistillStudent.Experiment(job, teachers);
            var named = experiments(_student);
            // The informer may not have seen a student just created; the read by name has.
            var child = observed.Of<ReidExperiment>().FirstOrDefault(e => e.Metadata.Name == _student) ?? (named is not null && Controls(named) ? named : null);
            if (child is null && named is not null)
            {
                NameTaken();
                return;
            }
            var created = $"ReidExperiment {_student} trains the student with {DistillStudent.Architecture(job.Spec.Kd)} from {teachers.Count} teacher(s)";
            if (child is null)
            {
                if (SameRun && Phases.IsFinished(Previous.Phase) && Previous.StudentExperiment is not null)
                    return; // removed by hand after it finished: the result stays and nothing is retrained
                Actions.Add(new CreateChild(desired));
                Status.StudentExperiment = _student;
                SetCondition(ConditionTypes.Created, true, "StudentCreated", created);
                Awaiting("StudentPending", NotStarted);
                // A look before the informer has seen the new student plans the same create (answered "exists"); say it once.
                if (!(SameRun && Conditions.IsTrue(Previous.Conditions, ConditionTypes.Created)))
                    Events.Add(new(PlannedEvent.Normal, "StudentCreated", $"{created}: {string.Join(", ", teachers.Select(t => t.Experiment ?? t.Model))}"));
                return;
            }

            Status.StudentExperiment = _student;
            SetCondition(ConditionTypes.Created, true, "StudentCreated", created);
            if (ExperimentNames.CanonicalJson(child.Spec) != ExperimentNames.CanonicalJson(desired.Spec))
            {
                // A new generation, or an edit by hand: the student's spec is put back to the plan, and its controller retrains it.
                desired.Metadata.ResourceVersion = child.Metadata.ResourceVersion;
                Actions.Add(new UpdateChild(desired));
                Awaiting("StudentUpdated", $"ReidExperiment {_student} is updated to generation {_look.Generation} of this DistillJob and retrains");
                return;
            }
            if (child.Status is not { } student || student.ObservedGeneration != child.Metadata.Generation)
            {
                Awaiting("StudentPending", NotStarted); // as the look that created it said, so this look writes no status
                return;
            }
            Mirror(student);
        }

        private bool Controls(ReidExperiment experiment) =>
            experiment.Metadata.OwnerReferences?.Any(o => o.Uid == job.Metadata.Uid && o.Controller == true) == true;

        private void NameTaken()
        {
            var message = $"ReidExperiment {_student} already exists and is not this DistillJob's student: delete or rename it, or rename the DistillJob";
            var before = SameRun ? Conditions.Find(Previous.Conditions, ConditionTypes.Created) : null;
            Status.Phase = Phases.Pending;
            SetCondition(ConditionTypes.Created, false, "StudentNameTaken", message);
            if (before?.Reason != "StudentNameTaken")
                Events.Add(new(PlannedEvent.Warning, "StudentNameTaken", message));
        }

        /// <summary>The student is (re)starting: nothing of an earlier training describes it.</summary>
        private void Awaiting(string reason, string message)
        {
            Status.Phase = Phases.Pending;
            Status.Metrics = null;
            Status.Artefacts = null;
            Status.Gain = null;
            Status.StartTime = null;
            Status.CompletionTime = null;
            Status.Conditions?.RemoveAll(c => c.Type != ConditionTypes.Running && Mirrored.Contains(c.Type));
            SetCondition(ConditionTypes.Running, false, reason, message);
        }

        /// <summary>The student's phase, times, results and conditions, as the DistillJob's; the gain over the best teacher.</summary>
        private void Mirror(ReidExperimentStatus student)
        {
            Status.Phase = student.Phase ?? Phases.Pending;
            Status.StartTime = student.StartTime;
            Status.CompletionTime = student.CompletionTime;
            Status.Metrics = student.Metrics;
            Status.Artefacts = student.Artefacts;
            Status.Gain = student.Metrics?.MAP is { } map && Status.TeacherMAP is { } best ? Math.Round((map - best) * 100, 2) : null;
            foreach (var type in Mirrored)
            {
                if (Conditions.Find(student.Conditions, type) is not { } theirs)
                {
                    Status.Conditions?.RemoveAll(c => c.Type == type);
                    continue;
                }
                var message = $"student {_student}: {theirs.Message}";
                if (type == ConditionTypes.Succeeded && Status.Gain is { } gain)
                    message += string.Create(CultureInfo.InvariantCulture, $"; {gain:+0.##;-0.##;0} mAP points against the best teacher (mAP {Status.TeacherMAP:0.####})");
                SetCondition(type, theirs.Status == "True", theirs.Reason ?? type, message);
            }
            // A student its own controller refuses fails the distillation in those words.
            if (Conditions.Find(student.Conditions, ConditionTypes.InvalidSpec) is { Status: "True" } invalid && !Conditions.IsTrue(Status.Conditions, ConditionTypes.Failed))
                SetCondition(ConditionTypes.Failed, true, "StudentInvalidSpec", $"student {_student}: {invalid.Message}");
        }

        private void SetCondition(string type, bool value, string reason, string message) => _look.SetCondition(type, value, reason, message);
    }
}
