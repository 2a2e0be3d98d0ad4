using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Rules;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator.Controllers;

/// <summary>
/// A minimal batch/v1 Job controller: creates pods from the template up to parallelism (one per
/// completion index in Indexed mode), counts finished pods through the job-tracking finalizer as the
/// real controller does, and writes active/ready/succeeded/failed, completedIndexes and the
/// Complete/Failed/Suspended conditions. Pods never run: tests finish them by writing pod status.
/// </summary>
internal sealed class JobController(ApiOperations ops)
{
    static ResourceType Jobs => BuiltinResources.Jobs;
    static ResourceType Pods => BuiltinResources.Pods;

    public void Handle(StoredEvent e)
    {
        if (e.Key.StorageKey == Jobs.StorageKey && e.Type != "DELETED") Reconcile(e.Key.Namespace, e.Key.Name);
        else if (e.Key.StorageKey == Pods.StorageKey && e.Type != "DELETED")
        {
            var owner = Meta.OwnerReferences(e.Object).FirstOrDefault(o => Meta.Str(o["kind"]) == "Job" && Meta.Str(o["apiVersion"]) == "batch/v1");
            if (owner is not null) Reconcile(e.Key.Namespace, Meta.Str(owner["name"]));
            // A pod whose Job is gone (deleted, or orphaned it) must not be held by the tracking finalizer.
            bool jobExists;
            lock (ops.Store.Gate) jobExists = owner is not null && ops.Store.FindByUid(Meta.Str(owner["uid"])) is not null;
            if (!jobExists && Meta.Finalizers(e.Object).Contains(JobRules.TrackingFinalizer))
                ops.RemoveFinalizer(Pods, e.Key, JobRules.TrackingFinalizer);
        }
    }

    /// <summary>Time-based rules: activeDeadlineSeconds of running jobs, ttlSecondsAfterFinished of finished ones.</summary>
    public void Tick()
    {
        List<JsonObject> jobs;
        lock (ops.Store.Gate) jobs = ops.Store.List(Jobs.StorageKey, null).Select(j => j.Object).ToList();
        var now = DateTimeOffset.UtcNow;
        foreach (var job in jobs)
        {
            var status = job["status"] as JsonObject ?? new JsonObject();
            var finishedAt = FinishedAt(status);
            if (finishedAt is null && Meta.Long(job["spec"]?["activeDeadlineSeconds"]) is not null)
                Reconcile(Meta.Namespace(job), Meta.Name(job));
            else if (finishedAt is { } at && Meta.Long(job["spec"]?["ttlSecondsAfterFinished"]) is { } ttl
                && at.AddSeconds(ttl) <= now && !Meta.IsDeleting(job))
            {
                // As the TTL-after-finished controller does: foreground, so pods go before the Job.
                try
                {
                    ops.Delete(Jobs, Meta.Namespace(job), Meta.Name(job), new DeleteOptions("Foreground"));
                }
                catch (ApiException ex) when (ex.Code == 404) { }
            }
        }
    }

    static DateTimeOffset? FinishedAt(JsonObject status)
    {
        var condition = (status["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .FirstOrDefault(c => Meta.Str(c["type"]) is "Complete" or "Failed" && Meta.Str(c["status"]) == "True");
        return condition is not null && DateTimeOffset.TryParse(Meta.Str(condition["lastTransitionTime"]), CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    }

    void Reconcile(string ns, string name)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                ReconcileOnce(ns, name);
                return;
            }
            catch (ApiException ex) when (ex.Code == 409) { }
        }
    }

    void ReconcileOnce(string ns, string name)
    {
        JsonObject? job;
        List<JsonObject> pods;
        lock (ops.Store.Gate)
        {
            job = ops.Store.Get(ApiOperations.Key(Jobs, ns, name));
            if (job is null) return;
            var uid = Meta.Uid(job);
            pods = ops.Store.List(Pods.StorageKey, ns).Select(p => p.Object)
                .Where(p => Meta.OwnerReferences(p).Any(o => Meta.Str(o["uid"]) == uid && o["controller"]?.GetValue<bool>() == true))
                .ToList();
        }
        var spec = job["spec"]!.AsObject();
        var status = job["status"]?.DeepClone() as JsonObject ?? new JsonObject();
        var indexed = Meta.Str(spec["completionMode"]) == "Indexed";
        var completions = (int?)Meta.Long(spec["completions"]);
        var parallelism = (int)(Meta.Long(spec["parallelism"]) ?? 1);
        var backoffLimit = Meta.Long(spec["backoffLimit"]) ?? 6;
        var suspended = spec["suspend"]?.GetValue<bool>() == true;
        var succeeded = JobStatusFields.Int(status["succeeded"]);
        var failed = JobStatusFields.Int(status["failed"]);
        var completed = JobStatusFields.ParseIndexes(Meta.Str(status["completedIndexes"]));
        var finished = JobStatusFields.HasCondition(status, "Complete") || JobStatusFields.HasCondition(status, "Failed");

        // Count pods that finished (or were deleted before finishing) exactly once: the tracking
        // finalizer is released only after the status holding the count is written, so a pod can then
        // go away, and a failed status write leaves it to be counted again.
        var release = new List<JsonObject>();
        string? failJob = null;
        foreach (var pod in pods.Where(p => Meta.Finalizers(p).Contains(JobRules.TrackingFinalizer)))
        {
            var phase = Meta.Str(pod["status"]?["phase"]);
            if (phase == "Succeeded")
            {
                if (indexed && CompletionIndex(pod) is { } index) completed.Add(index);
                else if (!indexed) succeeded++;
            }
            else if (phase == "Failed" || Meta.IsDeleting(pod))
            {
                var (action, message) = PodFailurePolicy.Evaluate(spec["podFailurePolicy"] as JsonObject, pod);
                if (action != "Ignore") failed++;
                if (action == "FailJob") failJob ??= message;
            }
            else continue;
            release.Add(pod);
        }
        if (indexed) succeeded = completed.Count(i => completions is null || i < completions);
        var active = pods.Where(IsActive).ToList();
        var now = Meta.Now();

        if (!finished && Meta.IsDeleting(job)) finished = true;
        if (!finished)
        {
            if (suspended)
            {
                foreach (var pod in active) RemovePod(pod);
                active.Clear();
                if (!JobStatusFields.HasCondition(status, "Suspended")) Record(job, "Normal", "Suspended", "Job suspended");
                JobStatusFields.SetCondition(status, "Suspended", "True", "JobSuspended", "Job suspended", now);
                status.Remove("startTime");
            }
            else
            {
                if (JobStatusFields.HasCondition(status, "Suspended"))
                {
                    Record(job, "Normal", "Resumed", "Job resumed");
                    JobStatusFields.SetCondition(status, "Suspended", "False", "JobResumed", "Job resumed", now);
                }
                status["startTime"] ??= now;
                var deadline = Meta.Long(spec["activeDeadlineSeconds"]);
                var started = DateTimeOffset.Parse(Meta.Str(status["startTime"]), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
                if (failJob is not null)
                {
                    foreach (var pod in active) RemovePod(pod);
                    active.Clear();
                    Record(job, "Warning", "PodFailurePolicy", failJob);
                    JobStatusFields.SetCondition(status, "FailureTarget", "True", "PodFailurePolicy", failJob, now);
                    JobStatusFields.SetCondition(status, "Failed", "True", "PodFailurePolicy", failJob, now);
                }
                else if (deadline is { } seconds && started.AddSeconds(seconds) <= DateTimeOffset.UtcNow)
                {
                    foreach (var pod in active) RemovePod(pod);
                    active.Clear();
                    Record(job, "Warning", "DeadlineExceeded", "Job was active longer than specified deadline");
                    JobStatusFields.SetCondition(status, "FailureTarget", "True", "DeadlineExceeded", "Job was active longer than specified deadline", now);
                    JobStatusFields.SetCondition(status, "Failed", "True", "DeadlineExceeded", "Job was active longer than specified deadline", now);
                }
                else if (failed > backoffLimit)
                {
                    foreach (var pod in active) RemovePod(pod);
                    active.Clear();
                    Record(job, "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
                    JobStatusFields.SetCondition(status, "FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now);
                    JobStatusFields.SetCondition(status, "Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now);
                }
                else if (indexed ? succeeded >= completions : completions is null ? succeeded > 0 && active.Count == 0 : succeeded >= completions)
                {
                    foreach (var pod in active) RemovePod(pod);
                    active.Clear();
                    Record(job, "Normal", "Completed", "Job completed");
                    JobStatusFields.SetCondition(status, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", now);
                    JobStatusFields.SetCondition(status, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", now);
                    status["completionTime"] = now;
                }
                else if (indexed) active.AddRange(CreateIndexed(job, active, completed, completions!.Value, parallelism));
                else
                {
                    var want = completions is null ? (succeeded > 0 ? 0 : parallelism) : Math.Min(parallelism, completions.Value - succeeded);
                    for (var i = active.Count; i < want && CreatePod(job, null) is { } created; i++) active.Add(created);
                    foreach (var extra in active.Skip(Math.Max(want, 0)).ToList())
                    {
                        RemovePod(extra);
                        active.Remove(extra);
                    }
                }
            }
        }

        JobStatusFields.SetCount(status, "active", active.Count);
        JobStatusFields.SetCount(status, "succeeded", succeeded);
        JobStatusFields.SetCount(status, "failed", failed);
        status["ready"] = active.Count(IsReady);
        status["terminating"] = pods.Count(p => Meta.IsDeleting(p) && !IsTerminal(p));
        if (indexed)
        {
            if (completed.Count > 0) status["completedIndexes"] = JobStatusFields.FormatIndexes(completed);
            else status.Remove("completedIndexes");
        }
        status["uncountedTerminatedPods"] ??= new JsonObject();
        if (!Meta.Same(status, job["status"]))
        {
            var update = job.DeepClone().AsObject();
            update["status"] = status;
            ops.Update(Jobs, ns, name, update, statusWrite: true, FieldValidation.Ignore);
        }
        foreach (var pod in release)
            ops.RemoveFinalizer(Pods, ApiOperations.Key(Pods, ns, Meta.Name(pod)), JobRules.TrackingFinalizer);
    }

    IEnumerable<JsonObject> CreateIndexed(JsonObject job, List<JsonObject> active, SortedSet<int> completed, int completions, int parallelism)
    {
        var running = active.Select(CompletionIndex).OfType<int>().ToHashSet();
        var slots = parallelism - active.Count;
        for (var index = 0; index < completions && slots > 0; index++)
        {
            if (completed.Contains(index) || running.Contains(index)) continue;
            slots--;
            if (CreatePod(job, index) is { } pod) yield return pod;
        }
    }

    /// <summary>Creates a pod of the Job; null when the server refuses it (recorded as FailedCreate, as the real controller does).</summary>
    JsonObject? CreatePod(JsonObject job, int? index)
    {
        var name = Meta.Name(job);
        var template = job["spec"]!["template"]!.AsObject();
        var meta = template["metadata"]?.DeepClone() as JsonObject ?? new JsonObject();
        meta.Remove("name");
        meta["generateName"] = index is null ? $"{name}-" : $"{name}-{index}-";
        meta["ownerReferences"] = new JsonArray(new JsonObject
        {
            ["apiVersion"] = "batch/v1", ["kind"] = "Job", ["name"] = name, ["uid"] = Meta.Uid(job),
            ["controller"] = true, ["blockOwnerDeletion"] = true,
        });
        meta["finalizers"] = new JsonArray(JobRules.TrackingFinalizer);
        var podSpec = template["spec"]!.DeepClone().AsObject();
        if (index is { } i)
        {
            var text = i.ToString(CultureInfo.InvariantCulture);
            var annotations = meta["annotations"] as JsonObject ?? new JsonObject();
            annotations[JobRules.CompletionIndexAnnotation] = text;
            meta["annotations"] = annotations;
            var labels = meta["labels"] as JsonObject ?? new JsonObject();
            labels[JobRules.CompletionIndexAnnotation] = text;
            meta["labels"] = labels;
            // Stable per-index hostname; with spec.subdomain naming a headless Service this is the
            // pod's DNS name, which is how multi-node training finds rank 0.
            podSpec["hostname"] = $"{name}-{text}";
            foreach (var c in (podSpec["containers"] as JsonArray ?? []).Concat(podSpec["initContainers"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var env = c["env"] as JsonArray ?? new JsonArray();
                if (!env.OfType<JsonObject>().Any(v => Meta.Str(v["name"]) == "JOB_COMPLETION_INDEX"))
                    env.Add(new JsonObject
                    {
                        ["name"] = "JOB_COMPLETION_INDEX",
                        ["valueFrom"] = new JsonObject { ["fieldRef"] = new JsonObject
                        {
                            ["apiVersion"] = "v1", ["fieldPath"] = $"metadata.annotations['{JobRules.CompletionIndexAnnotation}']",
                        } },
                    });
                c["env"] = env;
            }
        }
        var pod = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = podSpec };
        JsonObject created;
        try
        {
            created = ops.Create(Pods, Meta.Namespace(job), pod, FieldValidation.Ignore).Object;
        }
        catch (ApiException ex) when (ex.Code is 400 or 403 or 422)
        {
            Record(job, "Warning", "FailedCreate", $"Error creating: {ex.Message}");
            return null;
        }
        Record(job, "Normal", "SuccessfulCreate", $"Created pod: {Meta.Name(created)}");
        return created;
    }

    /// <summary>A core/v1 Event about the Job, as the real controller records (what `kubectl describe job` shows).</summary>
    void Record(JsonObject job, string type, string reason, string message)
    {
        var now = Meta.Now();
        var ev = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["generateName"] = Meta.Name(job) + "." },
            ["involvedObject"] = new JsonObject
            {
                ["apiVersion"] = "batch/v1", ["kind"] = "Job", ["name"] = Meta.Name(job), ["namespace"] = Meta.Namespace(job),
                ["uid"] = Meta.Uid(job), ["resourceVersion"] = job["metadata"]?["resourceVersion"]?.DeepClone(),
            },
            ["reason"] = reason, ["message"] = message, ["type"] = type,
            ["source"] = new JsonObject { ["component"] = "job-controller" },
            ["firstTimestamp"] = now, ["lastTimestamp"] = now, ["count"] = 1, ["reportingComponent"] = "job-controller",
        };
        try
        {
            ops.Create(BuiltinResources.CoreEvents, Meta.Namespace(job), ev, FieldValidation.Ignore);
        }
        catch (ApiException ex) when (ex.Code is 403 or 404) { }
    }

    /// <summary>The controller removes a pod it no longer wants without counting it as a failure.</summary>
    void RemovePod(JsonObject pod)
    {
        var key = ApiOperations.Key(Pods, Meta.Namespace(pod), Meta.Name(pod));
        ops.RemoveFinalizer(Pods, key, JobRules.TrackingFinalizer);
        try
        {
            ops.Delete(Pods, key.Namespace, key.Name, new DeleteOptions("Background"));
        }
        catch (ApiException ex) when (ex.Code == 404) { }
    }

    static bool IsTerminal(JsonObject pod) => Meta.Str(pod["status"]?["phase"]) is "Succeeded" or "Failed";
    static bool IsActive(JsonObject pod) => !IsTerminal(pod) && !Meta.IsDeleting(pod);

    static bool IsReady(JsonObject pod) =>
        (pod["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(c => Meta.Str(c["type"]) == "Ready" && Meta.Str(c["status"]) == "True");

    static int? CompletionIndex(JsonObject pod) =>
        int.TryParse(Meta.Str(pod["metadata"]?["annotations"]?[JobRules.CompletionIndexAnnotation]), out var i) ? i : null;
}
