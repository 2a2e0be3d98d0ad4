using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Pipeline.Exports;

/// <summary>
/// The ExportJob controller's decisions, as a pure function of the ExportJob, its observed Job and pod, and
/// the source ReidExperiment (null when it does not exist). Waits until the source has succeeded, then runs
/// one trainer pod in export mode and records the artefact, its sha256 and the verification figures.
/// An export runs once per generation: the source is resolved until its Job is made, and the status keeps
/// it, so a source retrained later is not re-exported unless the ExportJob's spec changes.
/// Level-triggered: planning twice on the same input gives the same plan.
/// </summary>
public static class ExportJobPlanner
{
    public const string TensorRtMessage =
        "format tensorrt is not supported yet: this operator exports ONNX only (TensorRT needs a GPU build path); " +
        "use format: onnx and build an engine from model.onnx with trtexec";

    public static Plan<ExportJobStatus> Plan(ExportJob job, ObservedChildren observed, ReidExperiment? sourceExperiment, PlannerOptions? options = null)
    {
        options ??= new PlannerOptions();
        if (job.Metadata.DeletionTimestamp is not null)
            return RunLifecycle.Deleting(job.Status ?? new ExportJobStatus()); // the garbage collector removes the Job

        var errors = new List<FieldError>(Validation.Validate(job));
        DerivedNames.CheckOwnerLabel(errors, job);
        DerivedNames.Check(errors, "metadata.name", job.Metadata.Name, "the export's Job name (also a label value)", ExportNames.JobName(job));
        var output = options.ResolveOutput(job.Spec.Output, job.Metadata.Namespace ?? "default", job.Metadata.Name ?? "", errors);
        options.CheckLocations(job.Spec.Source, "spec.source", errors);
        options.CheckLocation(output?.Uri, job.Spec.Output is null ? "spec.output (the operator's default storage)" : "spec.output.uri", errors);
        if (errors.Count > 0 || output is null)
            return Reject(job, errors, observed.Now);
        return new PlanContext(job, output, observed, sourceExperiment, options).Plan();
    }

    /// <summary>InvalidSpec naming the fields; nothing is created (a Job of an earlier, valid generation keeps going).</summary>
    public static Plan<ExportJobStatus> Reject(ExportJob job, IReadOnlyList<FieldError> errors, DateTimeOffset now) =>
        RunLifecycle.Invalid(job, errors, now);

    private sealed class PlanContext(ExportJob job, OutputSpec output, ObservedChildren observed, ReidExperiment? source, PlannerOptions options)
    {
        private readonly RunLook<ExportJobStatus> _look = new(job, ExportNames.JobName(job), observed.Now);
        private string JobName => _look.RunName;
        private ExportJobStatus Previous => _look.Previous;
        private ExportJobStatus Status => _look.Status;
        private List<ChildAction> Actions => _look.Actions;
        private List<PlannedEvent> Events => _look.Events;

        public Plan<ExportJobStatus> Plan()
        {
            bool sameRun = _look.SameRun;
            if (Conditions.Find(Status.Conditions, ConditionTypes.InvalidSpec) is not null)
                SetCondition(ConditionTypes.InvalidSpec, false, "SpecValid", "the spec is valid");
            if (!sameRun && Previous.JobName is not null)
                Events.Add(new(PlannedEvent.Normal, "SpecChanged", $"generation {_look.Generation} changes the export: Job {Previous.JobName} is replaced by {JobName}"));
            foreach (var stale in observed.Of<V1Job>().Where(j => j.Metadata?.Name != JobName))
                Actions.Add(new DeleteChild("batch/v1", "Job", stale.Metadata.Name));

            if (job.Spec.Format == ExportFormats.TensorRt)
            {
                Unsupported(); // its own Warning event, instead of a second one for the phase
                return _look.ToPlan(null, transitions: false);
            }
            TimeSpan? requeue = null;
            if (ResolveSource(sameRun) is { } resolved)
                requeue = Run(resolved, sameRun);
            return _look.ToPlan(requeue);
        }

        /// <summary>Never a silent success: the format is accepted by the API and refused here, by name.</summary>
        private void Unsupported()
        {
            Status.Phase = Phases.Failed;
            var before = Conditions.Find(Previous.Conditions, ConditionTypes.Unsupported);
            SetCondition(ConditionTypes.Unsupported, true, "FormatUnsupported", TensorRtMessage);
            if (before is not { Status: "True" })
                Events.Add(new(PlannedEvent.Warning, "FormatUnsupported", TensorRtMessage));
        }

        /// <summary>The source's model and config, or null (status says why) while they are not known.</summary>
        private ResolvedExport? ResolveSource(bool sameRun)
        {
            var spec = job.Spec.Source;
            string? model = null, config = null;
            if (sameRun && Previous.Source is { Model: { } m, Config: { } c } && Conditions.IsTrue(Previous.Conditions, ConditionTypes.SourceReady))
            {
                (model, config) = (m, c); // resolved for this Job already: a source retrained since is not re-exported
            }
            else if (spec.ExperimentRef is null)
            {
                (model, config) = (spec.ModelUri, spec.ConfigUri);
                SetCondition(ConditionTypes.SourceReady, true, "SourceGiven", "spec.source gives modelUri and configUri");
            }
            else
            {
                var look = ModelSources.Look(spec, source, job.Metadata.Namespace ?? "default");
                if (look.Failed)
                {
                    SetCondition(ConditionTypes.SourceReady, false, "SourceFailed", look.Message);
                    SetCondition(ConditionTypes.Failed, true, "SourceFailed", look.Message);
                    Status.Phase = Phases.Failed;
                    return null;
                }
                if (look.Model is null)
                    return Wait("Source" + look.State, look.State == ModelSources.ArtefactsMissing ? look.Message : look.Message + "; the export starts when it has succeeded");
                (model, config) = (look.Model.Model, look.Model.Config);
                SetCondition(ConditionTypes.SourceReady, true, "Source" + look.State, look.Message);
            }
            if (Conditions.Find(Status.Conditions, ConditionTypes.Failed) is { Reason: "SourceFailed" })
                Status.Conditions!.RemoveAll(c => c.Type == ConditionTypes.Failed);
            Status.Source = new ExportSourceStatus { Model = model, Config = config };
            var image = string.IsNullOrWhiteSpace(job.Spec.Resources.Image) ? options.TrainerImage : job.Spec.Resources.Image;
            return new ResolvedExport(job, JobName, job.Metadata.Namespace ?? "default", model!, config!, output, image)
            {
                Claims = ClaimMounts.Of([model, config], [output.Uri]),
            };
        }

        private ResolvedExport? Wait(string reason, string message)
        {
            Status.Phase = Phases.Pending;
            SetCondition(ConditionTypes.SourceReady, false, reason, message);
            // A source that failed and is retried: this export waits again instead of staying failed.
            if (Conditions.Find(Status.Conditions, ConditionTypes.Failed) is { Reason: "SourceFailed" })
                Status.Conditions!.RemoveAll(c => c.Type == ConditionTypes.Failed);
            return null;
        }

        private TimeSpan? Run(ResolvedExport export, bool sameRun)
        {
            var existing = observed.Of<V1Job>().FirstOrDefault(j => j.Metadata?.Name == JobName);
            if (existing is null && sameRun && Phases.IsFinished(Previous.Phase))
                return null; // removed after ttlSecondsAfterFinished (or by hand): the result stays, nothing is re-exported
            if (existing is not null)
                return Follow(existing);

            Actions.Add(new CreateChild(ExportChildren.Job(export, options)));
            Status.Phase = Phases.Pending;
            SetCondition(ConditionTypes.Created, true, "JobCreated", $"Job {JobName} created");
            SetCondition(ConditionTypes.Running, false, "PodPending", "the export pod is not running yet");
            SetCondition(ConditionTypes.PodsReady, false, "PodsPending", "0 of 1 pod(s) running");
            // A look before the informer has seen the new Job plans the same create (answered "exists"); say it once.
            if (!(sameRun && Conditions.IsTrue(Previous.Conditions, ConditionTypes.Created)))
                Events.Add(new(PlannedEvent.Normal, "Created", $"Job {JobName} exports {export.ModelUri} to {export.Output.Uri}/{ExportResult.ModelFile}"));
            return null;
        }

        private TimeSpan? Follow(V1Job existing)
        {
            var state = JobState.Of(existing, observed.Of<V1Pod>(), JobName);
            if (_look.FailedPending)
            {
                Actions.Add(new DeleteChild("batch/v1", "Job", JobName));
                return null;
            }
            SetCondition(ConditionTypes.Created, true, "JobCreated", $"Job {JobName} created");
            Status.StartTime ??= state.StartTime;
            if (!state.Finished)
            {
                bool running = state.RunningPods > 0;
                Status.Phase = running ? Phases.Running : Phases.Pending;
                SetCondition(ConditionTypes.Running, running, running ? "PodRunning" : "PodPending",
                    running ? "the export pod is running" : "the export pod is not running yet");
                var requeue = _look.WatchPods(state, 1, options.PendingDeadline(job.Spec.RunPolicy));
                if (state.FailedPods > 0)
                    SetCondition(ConditionTypes.Restarting, true, "PodFailed",
                        $"{state.FailedPods} pod failure(s), backoffLimit {existing.Spec?.BackoffLimit}{StatusUpdates.PodDetail(state.LastFailureMessage, state.LastFailureSource)}");
                return requeue;
            }

            return _look.Finished(state, ReadResult, Failure, job.Spec.RunPolicy?.TtlSecondsAfterFinished,
                () => Actions.Add(new DeleteChild("batch/v1", "Job", JobName)), $"Job {JobName}");
        }

        /// <summary>The artefact and verification figures from the result; null when read, else why not.</summary>
        private string? ReadResult(string? message)
        {
            var result = ExportResult.TryParse(message, out var error);
            if (result is null) return error;
            Status.Artefacts = result.Artefacts;
            Status.Verification = result.Verification;
            if (result.Verification.Passed == false)
                _look.Fail("VerificationFailed", $"the trainer reported a failed verification: {result.Summary()}");
            else
                SetCondition(ConditionTypes.Succeeded, true, "Exported", result.Summary());
            return null;
        }

        /// <summary>The exit codes that name their cause; the trainer's own words first.</summary>
        private static (string Reason, string Message) Failure(JobState state) =>
            (state.LastFailureExitCode switch
            {
                TrainerExitCodes.VerificationFailed => "VerificationFailed",
                TrainerExitCodes.Unsupported => "Unsupported",
                _ => state.FailureReason ?? "JobFailed",
            }, RunLifecycle.TrainerSaid(state));

        private void SetCondition(string type, bool value, string reason, string message) => _look.SetCondition(type, value, reason, message);
    }
}
