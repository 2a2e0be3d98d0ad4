using System.Globalization;
using FastReid.Api.V1Alpha1;
using FastReid.Config;
using FastReid.Pipeline.Progress;
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

    public static Plan<ReidExperimentStatus> Plan(ReidExperiment experiment, ObservedChildren observed, PlannerOptions? options = null)
    {
        options ??= new PlannerOptions();
        if (experiment.Metadata.DeletionTimestamp is not null)
            return RunLifecycle.Deleting(experiment.Status ?? new ReidExperimentStatus());

        var errors = new List<FieldError>(Validation.Validate(experiment));
        var run = Resolve(experiment, options, errors);
        if (errors.Count > 0 || run is null)
            return Reject(experiment, errors, observed.Now);

        return new PlanContext(experiment, run, observed, options).Plan();
    }

    /// <summary>Resolves output, image and effective config; adds errors instead of throwing.</summary>
    public static ResolvedRun? Resolve(ReidExperiment experiment, PlannerOptions options, List<FieldError> errors)
    {
        var spec = experiment.Spec;
        var ns = experiment.Metadata.Namespace ?? "default";
        var name = experiment.Metadata.Name ?? "";
        var output = options.ResolveOutput(spec.Output, ns, name, errors);

        options.CheckLocations(spec, "spec", errors);
        if (spec.Output is null && output is not null) options.CheckLocation(output.Uri, "spec.output (the operator's default storage)", errors);

        var configErrors = options.ValidateConfig(spec.Config ?? [], "spec.config");
        errors.AddRange(configErrors);
        // a malformed URI is named by Validation.Validate; there is no pod path to plan for it
        if (output is null || configErrors.Count > 0 || !Validation.IsStorageUri(output.Uri)) return null;
        var config = SpecConfig.Effective(spec, output.Uri, "spec", errors);
        if (config is null) return null;
        var reads = SpecConfig.MountReadPaths(config, "spec", errors);
        var claims = ClaimMounts.Of(reads.Append(spec.Dataset.Uri), [output.Uri]);
        var yaml = config.ToYaml();
        if (yaml.Length > MaxConfigBytes)
            errors.Add(new FieldError("spec.config", $"renders to {yaml.Length} bytes; a ConfigMap holds at most {MaxConfigBytes}"));
        if (ExperimentNames.BudgetKey(experiment) is { } budgetKey && BudgetKeys.Find(budgetKey) is null)
            errors.Add(new FieldError($"metadata.annotations[{ExperimentNames.BudgetKeyAnnotation}]",
                $"'{budgetKey}' cannot carry a training budget (known: {string.Join(", ", BudgetKeys.All.Select(b => b.Key))})"));
        var image = string.IsNullOrWhiteSpace(spec.Resources.Image) ? options.TrainerImage : spec.Resources.Image;
        var runName = ExperimentNames.RunName(experiment);
        DerivedNames.Check(errors, "metadata.name", name, "the run's Job, Service and ConfigMap name (also a label value)", runName);
        DerivedNames.Check(errors, "metadata.name", name, "the host name of the last pod", $"{runName}-{spec.Resources.Nodes - 1}");
        return new ResolvedRun(experiment, runName, ns, yaml, output, image) { RunId = ExperimentNames.RunId(experiment), Claims = claims };
    }

    /// <summary>
    /// The rank-0 trainer's metrics page to read before planning (the operator fetches it and passes the
    /// <see cref="MetricsScrape"/> as an observed child), or null: progress is off (metrics port 0), the run's
    /// Job is not running or its rank-0 pod is not (or has no IP yet), or the last reading is younger than the
    /// progress interval. The pod's IP: the operator needs no DNS for it.
    /// </summary>
    public static Uri? ProgressTarget(ReidExperiment experiment, ObservedChildren observed, PlannerOptions? options = null)
    {
        options ??= new PlannerOptions();
        if (options.TrainerMetricsPort <= 0 || experiment.Metadata.DeletionTimestamp is not null || experiment.Spec.RunPolicy.Suspend) return null;
        var runName = ExperimentNames.RunName(experiment);
        if (experiment.Status?.Progress?.ObservedAt is { } last && experiment.Status.JobName == runName && observed.Now - last < options.ProgressInterval)
            return null;
        if (observed.Of<V1Job>().FirstOrDefault(j => j.Metadata?.Name == runName) is not { } job) return null;
        var state = JobState.Of(job, observed.Of<V1Pod>(), runName);
        if (state.Finished || state.RankZeroRunningIp is not { Length: > 0 } address) return null;
        string host = address.Contains(':', StringComparison.Ordinal) ? $"[{address}]" : address;
        return new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{host}:{options.TrainerMetricsPort}/metrics"));
    }

    /// <summary>
    /// The plan for an experiment that cannot be read or planned at all (e.g. a spec field of the wrong JSON
    /// type): InvalidSpec naming the fields, nothing created.
    /// </summary>
    public static Plan<ReidExperimentStatus> Reject(ReidExperiment experiment, IReadOnlyList<FieldError> errors, DateTimeOffset now) =>
        RunLifecycle.Invalid(experiment, errors, now);

    private sealed class PlanContext(ReidExperiment experiment, ResolvedRun run, ObservedChildren observed, PlannerOptions options)
    {
        private readonly RunLook<ReidExperimentStatus> _look = new(experiment, run.RunName, observed.Now);
        private ReidExperimentStatus Previous => _look.Previous;
        private ReidExperimentStatus Status => _look.Status;
        private List<ChildAction> Actions => _look.Actions;
        private List<PlannedEvent> Events => _look.Events;

        public Plan<ReidExperimentStatus> Plan()
        {
            bool sameRun = _look.SameRun;
            SetCondition(ConditionTypes.InvalidSpec, false, "SpecValid", "the spec is valid");
            if (!sameRun && Previous.JobName is not null)
                Events.Add(new(PlannedEvent.Normal, "SpecChanged", $"generation {_look.Generation} changes the training: run {Previous.JobName} is replaced by {run.RunName}"));

            DeleteStaleRuns();
            var job = observed.Of<V1Job>().FirstOrDefault(j => j.Metadata?.Name == run.RunName);
            TimeSpan? requeue = null;
            if (job is null && sameRun && Phases.IsFinished(Previous.Phase))
            {
                // Removed after ttlSecondsAfterFinished (or by hand): the result stays and nothing is retrained.
                DeleteRunChildren(exceptJob: true);
            }
            else if (job is null)
            {
                EnsureChildren(includeJob: true);
                Status.Phase = Phases.Pending;
                SetCondition(ConditionTypes.Created, true, "ChildrenCreated", $"ConfigMap, headless Service and Indexed Job {run.RunName} created");
                // As the first look at the Job will say, so that look writes no status.
                if (experiment.Spec.RunPolicy.Suspend)
                {
                    SetCondition(ConditionTypes.Suspended, true, "Suspended", "runPolicy.suspend is true: the Job's pods are removed until it is false");
                    SetCondition(ConditionTypes.Running, false, "Suspended", "the run is suspended");
                }
                else
                {
                    var none = string.Create(CultureInfo.InvariantCulture, $"0 of {experiment.Spec.Resources.Nodes} pod(s) running");
                    SetCondition(ConditionTypes.Running, false, "PodsPending", none);
                    SetCondition(ConditionTypes.PodsReady, false, "PodsPending", none);
                }
                // A look before the informer has seen the new Job plans the same creates (answered "exists"); say it once.
                if (!(sameRun && Conditions.IsTrue(Previous.Conditions, ConditionTypes.Created)))
                    Events.Add(new(PlannedEvent.Normal, "Created", string.Create(CultureInfo.InvariantCulture,
                        $"run {run.RunName}: {experiment.Spec.Resources.Nodes} node(s) × {Math.Max(1, experiment.Spec.Resources.GpusPerNode)} worker(s), {(experiment.Spec.Resources.GpusPerNode > 0 ? "GPU" : "CPU")}")));
            }
            else
            {
                requeue = FollowJob(job);
            }
            return _look.ToPlan(requeue);
        }

        private TimeSpan? FollowJob(V1Job job)
        {
            var state = JobState.Of(job, observed.Of<V1Pod>(), run.RunName);
            if (_look.FailedPending)
            {
                DeleteRunChildren(exceptJob: false);
                return null;
            }
            SetCondition(ConditionTypes.Created, true, "ChildrenCreated", $"ConfigMap, headless Service and Indexed Job {run.RunName} created");
            Status.StartTime ??= state.StartTime;
            if (!state.Finished)
            {
                // While the run is active its ConfigMap and Service are put back if deleted or edited by hand.
                EnsureChildren(includeJob: false);
                bool suspend = experiment.Spec.RunPolicy.Suspend;
                if ((job.Spec?.Suspend ?? false) != suspend) Actions.Add(new SetJobSuspend(run.RunName, suspend));
                int nodes = experiment.Spec.Resources.Nodes;
                TimeSpan? requeue = null;
                if (suspend)
                {
                    Status.Phase = Phases.Pending;
                    SetCondition(ConditionTypes.Suspended, true, "Suspended", "runPolicy.suspend is true: the Job's pods are removed until it is false");
                    SetCondition(ConditionTypes.Running, false, "Suspended", "the run is suspended");
                    if (Conditions.Find(Status.Conditions, ConditionTypes.PodsReady) is not null)
                        SetCondition(ConditionTypes.PodsReady, false, "Suspended", "the run is suspended");
                }
                else
                {
                    if (Conditions.Find(Status.Conditions, ConditionTypes.Suspended) is not null)
                        SetCondition(ConditionTypes.Suspended, false, "Resumed", "runPolicy.suspend is false");
                    Status.Phase = state.RunningPods > 0 ? Phases.Running : Phases.Pending;
                    SetCondition(ConditionTypes.Running, state.RunningPods > 0,
                        state.RunningPods > 0 ? "PodsRunning" : "PodsPending",
                        string.Create(CultureInfo.InvariantCulture, $"{state.RunningPods} of {nodes} pod(s) running") + ReadProgress());
                    requeue = _look.WatchPods(state, nodes, options.PendingDeadline(experiment.Spec.RunPolicy));
                    // a running training is looked at again to read its progress
                    if (state.RunningPods > 0 && options.TrainerMetricsPort > 0 && !(requeue < options.ProgressInterval))
                        requeue = options.ProgressInterval;
                }
                if (state.FailedPods > 0)
                {
                    SetCondition(ConditionTypes.Restarting, true, "PodFailed", string.Create(CultureInfo.InvariantCulture,
                        $"{state.FailedPods} pod failure(s), backoffLimit {experiment.Spec.RunPolicy.BackoffLimit}{Detail(state)}"));
                }
                return requeue;
            }

            return _look.Finished(state, ReadResult, Failure, experiment.Spec.RunPolicy.TtlSecondsAfterFinished,
                () => DeleteRunChildren(exceptJob: false), $"Job, Service and ConfigMap {run.RunName}");
        }

        /// <summary>
        /// Takes the progress from the scraped metrics page, if one was read for this look; returns what the Running
        /// condition's message adds: nothing, or why no progress was read (the progress itself is left as it was).
        /// </summary>
        private string ReadProgress()
        {
            if (observed.Of<MetricsScrape>().FirstOrDefault() is not { } scrape) return "";
            if (scrape.Page is not { } page) return $"; progress not read from {scrape.Target}: {scrape.Error}";
            if (TrainerProgress.Parse(page, scrape.At, out var error) is not { } progress) return $"; progress not read from {scrape.Target}: {error}";
            Status.Progress = progress;
            return "";
        }

        /// <summary>Metrics and artefacts from the rank-0 result; null when read, else why not.</summary>
        private string? ReadResult(string? message)
        {
            if (TrainerResult.TryParse(message, out var error) is not { } result) return error;
            Status.Metrics = result.Metrics;
            Status.Artefacts = result.Artefacts;
            // the last reading was taken before the end (up to a progress interval): a finished run is at 100%
            if (Status.Progress is { } last) Status.Progress = TrainerProgress.Completed(last);
            SetCondition(ConditionTypes.Succeeded, true, "TrainingSucceeded", MetricsText(result.Metrics));
            return null;
        }

        /// <summary>A setting this build cannot run says so in the trainer's words; any other failure as the Job controller says it.</summary>
        private static (string Reason, string Message) Failure(JobState state) =>
            state.LastFailureExitCode == TrainerExitCodes.Unsupported
                ? ("Unsupported", RunLifecycle.TrainerSaid(state))
                : (state.FailureReason ?? "JobFailed", (state.FailureMessage ?? "the Job failed") + Detail(state));

        /// <summary>
        /// Create-or-update of the run's ConfigMap (its data is what the trainer reads) and headless Service; the
        /// Job only when it is missing (its template is immutable, and only spec.suspend changes in place).
        /// </summary>
        private void EnsureChildren(bool includeJob)
        {
            if (ChildObjects.Ensure(observed.Of<V1ConfigMap>(), ExperimentChildren.ConfigMap(run), SameData) is { } configMap)
                Actions.Add(configMap);
            if (ChildObjects.Ensure(observed.Of<V1Service>(), ExperimentChildren.HeadlessService(run, options)) is { } service)
                Actions.Add(service);
            if (includeJob)
                Actions.Add(new CreateChild(ExperimentChildren.Job(run, options)));
        }

        private static bool SameData(V1ConfigMap observedMap, V1ConfigMap desired) =>
            (observedMap.Data ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal)
                .SequenceEqual(desired.Data.OrderBy(p => p.Key, StringComparer.Ordinal)) && observedMap.BinaryData is not { Count: > 0 };

        private void DeleteStaleRuns()
        {
            foreach (var job in observed.Of<V1Job>().Where(j => j.Metadata?.Name != run.RunName))
                Actions.Add(new DeleteChild("batch/v1", "Job", job.Metadata.Name));
            foreach (var service in observed.Of<V1Service>().Where(s => s.Metadata?.Name != run.RunName))
                Actions.Add(new DeleteChild("v1", "Service", service.Metadata.Name));
            foreach (var configMap in observed.Of<V1ConfigMap>().Where(c => c.Metadata?.Name != run.RunName))
                Actions.Add(new DeleteChild("v1", "ConfigMap", configMap.Metadata.Name));
        }

        private void DeleteRunChildren(bool exceptJob)
        {
            if (!exceptJob && observed.Of<V1Job>().Any(j => j.Metadata?.Name == run.RunName))
                Actions.Add(new DeleteChild("batch/v1", "Job", run.RunName));
            if (observed.Of<V1Service>().Any(s => s.Metadata?.Name == run.RunName))
                Actions.Add(new DeleteChild("v1", "Service", run.RunName));
            if (observed.Of<V1ConfigMap>().Any(c => c.Metadata?.Name == run.RunName))
                Actions.Add(new DeleteChild("v1", "ConfigMap", run.RunName));
        }

        private void SetCondition(string type, bool value, string reason, string message) => _look.SetCondition(type, value, reason, message);
    }

    private static string Detail(JobState state) => StatusUpdates.PodDetail(state.LastFailureMessage, state.LastFailureSource);

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
