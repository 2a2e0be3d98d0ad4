using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;

namespace FastReid.Pipeline.Exports;

/// <summary>The ExportJob controller's decisions for one look: Job actions, the status, events, when to look again.</summary>
public sealed record ExportPlan(IReadOnlyList<ChildAction> Actions, ExportJobStatus Status, IReadOnlyList<PlannedEvent> Events, TimeSpan? RequeueAfter);

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
    /// <summary>How long a succeeded Job waits for its pod to show up before giving up on the result.</summary>
    private static readonly TimeSpan ResultGrace = TimeSpan.FromMinutes(5);

    public const string TensorRtMessage =
        "format tensorrt is not supported yet: this operator exports ONNX only (TensorRT needs a GPU build path); " +
        "use format: onnx and build an engine from model.onnx with trtexec";

    public static ExportPlan Plan(ExportJob job, ObservedChildren observed, ReidExperiment? sourceExperiment, PlannerOptions? options = null)
    {
        options ??= new PlannerOptions();
        var previous = job.Status ?? new ExportJobStatus();
        if (job.Metadata.DeletionTimestamp is not null)
            return new ExportPlan([], StatusUpdates.Copy(previous), [], null); // the garbage collector removes the Job

        var errors = new List<FieldError>(Validation.Validate(job));
        var output = options.ResolveOutput(job.Spec.Output, job.Metadata.Namespace ?? "default", job.Metadata.Name ?? "", errors);
        if (errors.Count > 0 || output is null)
            return Reject(job, errors, observed.Now);
        return new PlanContext(job, output, previous, observed, sourceExperiment, options).Plan();
    }

    /// <summary>InvalidSpec naming the fields; nothing is created (a Job of an earlier, valid generation keeps going).</summary>
    public static ExportPlan Reject(ExportJob job, IReadOnlyList<FieldError> errors, DateTimeOffset now)
    {
        var previous = job.Status ?? new ExportJobStatus();
        var status = StatusUpdates.Copy(previous);
        var ev = StatusUpdates.MarkInvalid(status, previous.Conditions, errors, job.Metadata.Generation ?? 0, now);
        if (previous.JobName is null) status.Phase = Phases.Failed;
        return new ExportPlan([], status, ev is null ? [] : [ev], null);
    }

    private sealed class PlanContext(ExportJob job, OutputSpec output, ExportJobStatus previous, ObservedChildren observed, ReidExperiment? source, PlannerOptions options)
    {
        private readonly List<ChildAction> _actions = [];
        private readonly List<PlannedEvent> _events = [];
        private readonly long _generation = job.Metadata.Generation ?? 0;
        private readonly string _jobName = ExportNames.JobName(job);
        private ExportJobStatus _status = null!;

        public ExportPlan Plan()
        {
            bool sameRun = previous.JobName == _jobName;
            _status = sameRun ? StatusUpdates.Copy(previous) : new ExportJobStatus { Conditions = previous.Conditions?.Where(c => c.Type == ConditionTypes.InvalidSpec).ToList() };
            _status.JobName = _jobName;
            _status.ObservedGeneration = _generation;
            if (Conditions.Find(_status.Conditions, ConditionTypes.InvalidSpec) is not null)
                SetCondition(ConditionTypes.InvalidSpec, false, "SpecValid", "the spec is valid");
            if (!sameRun && previous.JobName is not null)
                _events.Add(new(PlannedEvent.Normal, "SpecChanged", $"generation {_generation} changes the export: Job {previous.JobName} is replaced by {_jobName}"));
            foreach (var stale in observed.Jobs.Where(j => j.Metadata?.Name != _jobName))
                _actions.Add(new DeleteChild("batch/v1", "Job", stale.Metadata.Name));

            if (job.Spec.Format == ExportFormats.TensorRt)
            {
                Unsupported(); // its own Warning event, instead of a second one for the phase
                return new ExportPlan(_actions, _status, _events, null);
            }
            TimeSpan? requeue = null;
            if (ResolveSource(sameRun) is { } resolved)
                requeue = Run(resolved, sameRun);
            _events.AddRange(StatusUpdates.Transitions(previous, _status, sameRun));
            return new ExportPlan(_actions, _status, _events, requeue);
        }

        /// <summary>Never a silent success: the format is accepted by the API and refused here, by name.</summary>
        private void Unsupported()
        {
            _status.Phase = Phases.Failed;
            var before = Conditions.Find(previous.Conditions, ConditionTypes.Unsupported);
            SetCondition(ConditionTypes.Unsupported, true, "FormatUnsupported", TensorRtMessage);
            if (before is not { Status: "True" })
                _events.Add(new(PlannedEvent.Warning, "FormatUnsupported", TensorRtMessage));
        }

        /// <summary>The source's model and config, or null (status says why) while they are not known.</summary>
        private ResolvedExport? ResolveSource(bool sameRun)
        {
            var spec = job.Spec.Source;
            string? model = null, config = null;
            if (sameRun && previous.Source is { Model: { } m, Config: { } c } && Conditions.IsTrue(previous.Conditions, ConditionTypes.SourceReady))
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
                var name = spec.ExperimentRef.Name;
                var phase = source?.Status?.Phase;
                var artefacts = source?.Status?.Artefacts;
                if (source is null)
                    return Wait("SourceNotFound", $"ReidExperiment {name} does not exist in namespace {job.Metadata.Namespace} (yet); the export starts when it has succeeded");
                if (phase == Phases.Failed)
                {
                    var why = Conditions.Find(source.Status!.Conditions, ConditionTypes.Failed)?.Message
                        ?? Conditions.Find(source.Status.Conditions, ConditionTypes.InvalidSpec)?.Message;
                    var message = $"ReidExperiment {name} failed{(why is null ? "" : ": " + why)}";
                    SetCondition(ConditionTypes.SourceReady, false, "SourceFailed", message);
                    SetCondition(ConditionTypes.Failed, true, "SourceFailed", message);
                    _status.Phase = Phases.Failed;
                    return null;
                }
                if (phase != Phases.Succeeded)
                    return Wait("SourceNotReady", $"ReidExperiment {name} is {phase ?? "not started"}; the export starts when it has succeeded");
                if (artefacts?.Model is null || artefacts.Config is null)
                    return Wait("SourceArtefactsMissing", $"ReidExperiment {name} succeeded but its status names no {(artefacts?.Model is null ? "artefacts.model" : "artefacts.config")}");
                (model, config) = (artefacts.Model, artefacts.Config);
                SetCondition(ConditionTypes.SourceReady, true, "SourceSucceeded", $"ReidExperiment {name} succeeded: {model}");
            }
            if (Conditions.Find(_status.Conditions, ConditionTypes.Failed) is { Reason: "SourceFailed" })
                _status.Conditions!.RemoveAll(c => c.Type == ConditionTypes.Failed);
            _status.Source = new ExportSourceStatus { Model = model, Config = config };
            var image = string.IsNullOrWhiteSpace(job.Spec.Resources.Image) ? options.TrainerImage : job.Spec.Resources.Image;
            return new ResolvedExport(job, _jobName, job.Metadata.Namespace ?? "default", model!, config!, output, image);
        }

        private ResolvedExport? Wait(string reason, string message)
        {
            _status.Phase = Phases.Pending;
            SetCondition(ConditionTypes.SourceReady, false, reason, message);
            // A source that failed and is retried: this export waits again instead of staying failed.
            if (Conditions.Find(_status.Conditions, ConditionTypes.Failed) is { Reason: "SourceFailed" })
                _status.Conditions!.RemoveAll(c => c.Type == ConditionTypes.Failed);
            return null;
        }

        private TimeSpan? Run(ResolvedExport export, bool sameRun)
        {
            var existing = observed.Jobs.FirstOrDefault(j => j.Metadata?.Name == _jobName);
            if (existing is null && sameRun && Phases.IsFinished(previous.Phase))
                return null; // removed after ttlSecondsAfterFinished (or by hand): the result stays, nothing is re-exported
            if (existing is not null)
                return Follow(existing);

            _actions.Add(new CreateChild(ExportChildren.Job(export, options)));
            _status.Phase = Phases.Pending;
            SetCondition(ConditionTypes.Created, true, "JobCreated", $"Job {_jobName} created");
            SetCondition(ConditionTypes.Running, false, "PodPending", "the export pod is not running yet");
            // A look before the informer has seen the new Job plans the same create (answered "exists"); say it once.
            if (!(sameRun && Conditions.IsTrue(previous.Conditions, ConditionTypes.Created)))
                _events.Add(new(PlannedEvent.Normal, "Created", $"Job {_jobName} exports {export.ModelUri} to {export.Output.Uri}/{ExportResult.ModelFile}"));
            return null;
        }

        private TimeSpan? Follow(V1Job existing)
        {
            var state = JobState.Of(existing, observed.Pods, _jobName);
            SetCondition(ConditionTypes.Created, true, "JobCreated", $"Job {_jobName} created");
            _status.StartTime ??= state.StartTime;
            if (!state.Finished)
            {
                bool running = state.RunningPods > 0;
                _status.Phase = running ? Phases.Running : Phases.Pending;
                SetCondition(ConditionTypes.Running, running, running ? "PodRunning" : "PodPending",
                    running ? "the export pod is running" : "the export pod is not running yet");
                if (state.FailedPods > 0)
                    SetCondition(ConditionTypes.Restarting, true, "PodFailed",
                        $"{state.FailedPods} pod failure(s), backoffLimit {existing.Spec?.BackoffLimit}{StatusUpdates.PodDetail(state.LastFailureMessage)}");
                return null;
            }

            _status.CompletionTime ??= state.CompletionTime ?? observed.Now;
            SetCondition(ConditionTypes.Running, false, "Finished", "the Job finished");
            if (Conditions.Find(_status.Conditions, ConditionTypes.Restarting) is { Status: "True" })
                SetCondition(ConditionTypes.Restarting, false, "Finished", "the Job finished");
            TimeSpan? requeue = null;
            if (state.Succeeded)
                requeue = Succeeded(state);
            else
                Failed(state.LastFailureExitCode == 3 ? "VerificationFailed" : state.FailureReason ?? "JobFailed",
                    state.LastFailureMessage is { Length: > 0 } said
                        ? $"{TrainerResult.Truncate(said.Trim(), 600)} ({state.FailureMessage ?? "the Job failed"})"
                        : state.FailureMessage ?? "the Job failed");
            return Expire() ?? requeue;
        }

        private TimeSpan? Succeeded(JobState state)
        {
            var result = ExportResult.TryParse(state.RankZeroMessage, out var error);
            if (result is null)
            {
                _status.Phase = Phases.Succeeded;
                SetCondition(ConditionTypes.Succeeded, true, "ResultMissing", $"the Job completed but {error}");
                return !state.RankZeroPodSeen && observed.Now - _status.CompletionTime < ResultGrace ? TimeSpan.FromSeconds(15) : null;
            }
            _status.Artefacts = result.Artefacts;
            _status.Verification = result.Verification;
            if (result.Verification.Passed == false)
                Failed("VerificationFailed", $"the trainer reported a failed verification: {result.Summary()}");
            else
            {
                _status.Phase = Phases.Succeeded;
                SetCondition(ConditionTypes.Succeeded, true, "Exported", result.Summary());
            }
            return null;
        }

        private void Failed(string reason, string message)
        {
            _status.Phase = Phases.Failed;
            SetCondition(ConditionTypes.Failed, true, reason, message);
        }

        /// <summary>runPolicy.ttlSecondsAfterFinished: the Job goes, the status stays.</summary>
        private TimeSpan? Expire()
        {
            if (job.Spec.RunPolicy?.TtlSecondsAfterFinished is not { } ttl || _status.CompletionTime is not { } done) return null;
            var expiry = done + TimeSpan.FromSeconds(ttl);
            if (observed.Now < expiry) return expiry - observed.Now;
            _actions.Add(new DeleteChild("batch/v1", "Job", _jobName));
            _events.Add(new(PlannedEvent.Normal, "ChildrenRemoved", $"ttlSecondsAfterFinished ({ttl}) passed: Job {_jobName} removed; status kept"));
            return null;
        }

        private void SetCondition(string type, bool value, string reason, string message) =>
            _status.Conditions = Conditions.Set(_status.Conditions, new Condition
            {
                Type = type, Status = value ? "True" : "False", Reason = reason, Message = message, ObservedGeneration = _generation,
            }, observed.Now);
    }
}
