using System.Globalization;
using FastReid.Api.V1Alpha1;
using k8s.Models;

namespace FastReid.Pipeline.Experiments;

/// <summary>
/// The ReidExperiment controller's decisions, as a pure function: given the experiment and the children that
/// exist, which children to create or delete, what the status is, which events to record and when to look
/// again. Level-triggered: planning twice on the same input gives the same plan.
/// </summary>
public static class ReidExperimentPlanner
{
    /// <summary>A ConfigMap holds at most 1 MiB; leave room for metadata.</summary>
    private const int MaxConfigBytes = 900 * 1024;

    /// <summary>How long a succeeded run waits for its rank-0 pod to show up before giving up on the result.</summary>
    private static readonly TimeSpan ResultGrace = TimeSpan.FromMinutes(5);

    public static ExperimentPlan Plan(ReidExperiment experiment, ObservedChildren observed, PlannerOptions? options = null)
    {
        options ??= new PlannerOptions();
        var previous = experiment.Status ?? new ReidExperimentStatus();
        if (experiment.Metadata.DeletionTimestamp is not null)
            return new ExperimentPlan([], ExperimentStatus.Copy(previous), [], null); // the garbage collector removes the children

        var errors = new List<FieldError>(Validation.Validate(experiment));
        var run = Resolve(experiment, options, errors);
        if (errors.Count > 0 || run is null)
            return Invalid(experiment, previous, errors, observed.Now);

        var context = new PlanContext(experiment, run, previous, observed, options);
        return context.Plan();
    }

    /// <summary>Resolves output, image and effective config; adds errors instead of throwing.</summary>
    public static ResolvedRun? Resolve(ReidExperiment experiment, PlannerOptions options, List<FieldError> errors)
    {
        var spec = experiment.Spec;
        var ns = experiment.Metadata.Namespace ?? "default";
        var name = experiment.Metadata.Name ?? "";
        var output = options.ResolveOutput(spec.Output, ns, name, errors);

        var configErrors = options.ValidateConfig(spec.Config ?? [], "spec.config");
        errors.AddRange(configErrors);
        if (output is null || configErrors.Count > 0) return null;
        var config = SpecConfig.Effective(spec, output.Uri, "spec", errors);
        if (config is null) return null;
        var yaml = config.ToYaml();
        if (yaml.Length > MaxConfigBytes)
            errors.Add(new FieldError("spec.config", $"renders to {yaml.Length} bytes; a ConfigMap holds at most {MaxConfigBytes}"));
        var image = string.IsNullOrWhiteSpace(spec.Resources.Image) ? options.TrainerImage : spec.Resources.Image;
        return new ResolvedRun(experiment, ExperimentNames.RunName(experiment), ns, yaml, output, image);
    }

    /// <summary>
    /// The plan for an experiment that cannot be read or planned at all (e.g. a spec field of the wrong JSON
    /// type): InvalidSpec naming the fields, nothing created.
    /// </summary>
    public static ExperimentPlan Reject(ReidExperiment experiment, IReadOnlyList<FieldError> errors, DateTimeOffset now) =>
        Invalid(experiment, experiment.Status ?? new ReidExperimentStatus(), [.. errors], now);

    private static ExperimentPlan Invalid(ReidExperiment experiment, ReidExperimentStatus previous, List<FieldError> errors, DateTimeOffset now)
    {
        var status = ExperimentStatus.Copy(previous);
        var ev = StatusUpdates.MarkInvalid(status, previous.Conditions, errors, experiment.Metadata.Generation ?? 0, now);
        // Nothing is created; a run of an earlier, valid generation keeps going and keeps its phase.
        if (previous.JobName is null) status.Phase = Phases.Failed;
        return new ExperimentPlan([], status, ev is null ? [] : [ev], null);
    }

    private sealed class PlanContext(ReidExperiment experiment, ResolvedRun run, ReidExperimentStatus previous, ObservedChildren observed, PlannerOptions options)
    {
        private readonly List<ChildAction> _actions = [];
        private readonly List<PlannedEvent> _events = [];
        private readonly long _generation = experiment.Metadata.Generation ?? 0;
        private readonly DateTimeOffset _now = observed.Now;
        private ReidExperimentStatus _status = null!;

        public ExperimentPlan Plan()
        {
            bool sameRun = previous.JobName == run.RunName;
            _status = sameRun ? ExperimentStatus.Copy(previous) : ExperimentStatus.ForNewRun(previous);
            _status.JobName = run.RunName;
            _status.ObservedGeneration = _generation;
            SetCondition(ConditionTypes.InvalidSpec, false, "SpecValid", "the spec is valid");
            if (!sameRun && previous.JobName is not null)
                _events.Add(new(PlannedEvent.Normal, "SpecChanged", $"generation {_generation} changes the training: run {previous.JobName} is replaced by {run.RunName}"));

            DeleteStaleRuns();
            var job = observed.Jobs.FirstOrDefault(j => j.Metadata?.Name == run.RunName);
            TimeSpan? requeue = null;
            if (job is null && sameRun && Phases.IsFinished(previous.Phase))
            {
                // Removed after ttlSecondsAfterFinished (or by hand): the result stays and nothing is retrained.
                DeleteRunChildren(exceptJob: true);
            }
            else if (job is null)
            {
                CreateMissingChildren(includeJob: true);
                _status.Phase = Phases.Pending;
                SetCondition(ConditionTypes.Created, true, "ChildrenCreated", $"ConfigMap, headless Service and Indexed Job {run.RunName} created");
                // As the first look at the Job will say, so that look writes no status.
                if (experiment.Spec.RunPolicy.Suspend)
                {
                    SetCondition(ConditionTypes.Suspended, true, "Suspended", "runPolicy.suspend is true: the Job's pods are removed until it is false");
                    SetCondition(ConditionTypes.Running, false, "Suspended", "the run is suspended");
                }
                else
                {
                    SetCondition(ConditionTypes.Running, false, "PodsPending",
                        string.Create(CultureInfo.InvariantCulture, $"0 of {experiment.Spec.Resources.Nodes} pod(s) running"));
                }
                // A look before the informer has seen the new Job plans the same creates (answered "exists"); say it once.
                if (!(sameRun && Conditions.IsTrue(previous.Conditions, ConditionTypes.Created)))
                    _events.Add(new(PlannedEvent.Normal, "Created", string.Create(CultureInfo.InvariantCulture,
                        $"run {run.RunName}: {experiment.Spec.Resources.Nodes} node(s) × {Math.Max(1, experiment.Spec.Resources.GpusPerNode)} worker(s), {(experiment.Spec.Resources.GpusPerNode > 0 ? "GPU" : "CPU")}")));
            }
            else
            {
                requeue = FollowJob(job);
            }
            Transitions();
            return new ExperimentPlan(_actions, _status, _events, requeue);
        }

        private TimeSpan? FollowJob(V1Job job)
        {
            var state = JobState.Of(job, observed.Pods, run.RunName);
            SetCondition(ConditionTypes.Created, true, "ChildrenCreated", $"ConfigMap, headless Service and Indexed Job {run.RunName} created");
            _status.StartTime ??= state.StartTime;
            if (!state.Finished)
            {
                CreateMissingChildren(includeJob: false);
                bool suspend = experiment.Spec.RunPolicy.Suspend;
                if ((job.Spec?.Suspend ?? false) != suspend) _actions.Add(new SetJobSuspend(run.RunName, suspend));
                int nodes = experiment.Spec.Resources.Nodes;
                if (suspend)
                {
                    _status.Phase = Phases.Pending;
                    SetCondition(ConditionTypes.Suspended, true, "Suspended", "runPolicy.suspend is true: the Job's pods are removed until it is false");
                    SetCondition(ConditionTypes.Running, false, "Suspended", "the run is suspended");
                }
                else
                {
                    if (Conditions.Find(_status.Conditions, ConditionTypes.Suspended) is not null)
                        SetCondition(ConditionTypes.Suspended, false, "Resumed", "runPolicy.suspend is false");
                    _status.Phase = state.RunningPods > 0 ? Phases.Running : Phases.Pending;
                    SetCondition(ConditionTypes.Running, state.RunningPods > 0,
                        state.RunningPods > 0 ? "PodsRunning" : "PodsPending",
                        string.Create(CultureInfo.InvariantCulture, $"{state.RunningPods} of {nodes} pod(s) running"));
                }
                if (state.FailedPods > 0)
                {
                    SetCondition(ConditionTypes.Restarting, true, "PodFailed", string.Create(CultureInfo.InvariantCulture,
                        $"{state.FailedPods} pod failure(s), backoffLimit {experiment.Spec.RunPolicy.BackoffLimit}{Detail(state.LastFailureMessage)}"));
                }
                return null;
            }

            _status.CompletionTime ??= state.CompletionTime ?? _now;
            SetCondition(ConditionTypes.Running, false, "Finished", "the Job finished");
            if (Conditions.Find(_status.Conditions, ConditionTypes.Restarting) is { Status: "True" })
                SetCondition(ConditionTypes.Restarting, false, "Finished", "the Job finished");
            TimeSpan? requeue = null;
            if (state.Succeeded)
            {
                _status.Phase = Phases.Succeeded;
                var message = state.RankZeroMessage;
                var result = TrainerResult.TryParse(message, out var error);
                if (result is not null)
                {
                    _status.Metrics = result.Metrics;
                    _status.Artefacts = result.Artefacts;
                    SetCondition(ConditionTypes.Succeeded, true, "TrainingSucceeded", MetricsText(result.Metrics));
                }
                else
                {
                    SetCondition(ConditionTypes.Succeeded, true, "ResultMissing", $"the Job completed but {error}");
                    if (!state.RankZeroPodSeen && _now - _status.CompletionTime < ResultGrace) requeue = TimeSpan.FromSeconds(15);
                }
            }
            else
            {
                _status.Phase = Phases.Failed;
                SetCondition(ConditionTypes.Failed, true, state.FailureReason ?? "JobFailed",
                    (state.FailureMessage ?? "the Job failed") + Detail(state.LastFailureMessage));
            }
            return Expire() ?? requeue;
        }

        /// <summary>runPolicy.ttlSecondsAfterFinished: children go, status stays.</summary>
        private TimeSpan? Expire()
        {
            if (experiment.Spec.RunPolicy.TtlSecondsAfterFinished is not { } ttl || _status.CompletionTime is not { } done) return null;
            var expiry = done + TimeSpan.FromSeconds(ttl);
            if (_now < expiry) return expiry - _now;
            DeleteRunChildren(exceptJob: false);
            _events.Add(new(PlannedEvent.Normal, "ChildrenRemoved", $"ttlSecondsAfterFinished ({ttl}) passed: Job, Service and ConfigMap {run.RunName} removed; status kept"));
            return null;
        }

        private void CreateMissingChildren(bool includeJob)
        {
            if (!observed.ConfigMaps.Any(c => c.Metadata?.Name == run.RunName))
                _actions.Add(new CreateChild(ExperimentChildren.ConfigMap(run)));
            if (!observed.Services.Any(s => s.Metadata?.Name == run.RunName))
                _actions.Add(new CreateChild(ExperimentChildren.HeadlessService(run, options)));
            if (includeJob)
                _actions.Add(new CreateChild(ExperimentChildren.Job(run, options)));
        }

        private void DeleteStaleRuns()
        {
            foreach (var job in observed.Jobs.Where(j => j.Metadata?.Name != run.RunName))
                _actions.Add(new DeleteChild("batch/v1", "Job", job.Metadata.Name));
            foreach (var service in observed.Services.Where(s => s.Metadata?.Name != run.RunName))
                _actions.Add(new DeleteChild("v1", "Service", service.Metadata.Name));
            foreach (var configMap in observed.ConfigMaps.Where(c => c.Metadata?.Name != run.RunName))
                _actions.Add(new DeleteChild("v1", "ConfigMap", configMap.Metadata.Name));
        }

        private void DeleteRunChildren(bool exceptJob)
        {
            if (!exceptJob && observed.Jobs.Any(j => j.Metadata?.Name == run.RunName))
                _actions.Add(new DeleteChild("batch/v1", "Job", run.RunName));
            if (observed.Services.Any(s => s.Metadata?.Name == run.RunName))
                _actions.Add(new DeleteChild("v1", "Service", run.RunName));
            if (observed.ConfigMaps.Any(c => c.Metadata?.Name == run.RunName))
                _actions.Add(new DeleteChild("v1", "ConfigMap", run.RunName));
        }

        private void SetCondition(string type, bool value, string reason, string message) =>
            _status.Conditions = Conditions.Set(_status.Conditions, new Condition
            {
                Type = type, Status = value ? "True" : "False", Reason = reason, Message = message, ObservedGeneration = _generation,
            }, _now);

        /// <summary>Events for what changed since the previous status (compared only within one run).</summary>
        private void Transitions() => _events.AddRange(StatusUpdates.Transitions(previous, _status, previous.JobName == run.RunName));
    }

    private static string Detail(string? podMessage) => StatusUpdates.PodDetail(podMessage);

    private static string MetricsText(ReidMetrics metrics)
    {
        var parts = new List<string>();
        void Add(string name, double? value) { if (value is { } v) parts.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {v:0.####}")); }
        Add("mAP", metrics.MAP);
        Add("rank-1", metrics.Rank1);
        Add("rank-5", metrics.Rank5);
        Add("rank-10", metrics.Rank10);
        Add("mINP", metrics.MINP);
        return parts.Count > 0 ? string.Join(", ", parts) : "training succeeded (no metrics reported)";
    }
}
