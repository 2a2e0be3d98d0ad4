using k8s;
using k8s.Models;

namespace FastReid.KubeEmulator.Tests;

/// <summary>The minimal Job controller: pods from the template, Indexed mode, status, backoffLimit, suspend, cascading delete.</summary>
public sealed class JobControllerTests(EmulatorFixture kube) : IClassFixture<EmulatorFixture>
{
    static string JobYaml(string ns, string name, int completions, int parallelism, string mode = "NonIndexed", int backoffLimit = 6, bool suspend = false) => $$$$"""
        {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"{{{{name}}}}","namespace":"{{{{ns}}}}"},
         "spec":{"completions":{{{{completions}}}},"parallelism":{{{{parallelism}}}},"completionMode":"{{{{mode}}}}","backoffLimit":{{{{backoffLimit}}}},
                 "suspend":{{{{(suspend ? "true" : "false")}}}},
                 "template":{"spec":{"restartPolicy":"Never","subdomain":"{{{{name}}}}","containers":[{"name":"trainer","image":"fastreid:dev"}] } } } }
        """;

    /// <summary>What a kubelet writes when a container exits: phase plus a terminated container status with exit code and message.</summary>
    static string Finished(bool success, string message) =>
        "{\"status\":{\"phase\":\"" + (success ? "Succeeded" : "Failed") + "\",\"containerStatuses\":[{\"name\":\"trainer\",\"image\":\"fastreid:dev\"," +
        "\"imageID\":\"\",\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":" + (success ? 0 : 1) +
        ",\"reason\":\"" + (success ? "Completed" : "Error") + "\",\"message\":" + System.Text.Json.JsonSerializer.Serialize(message) + "}}}]}}";

    List<V1Pod> Pods(string ns, string job) =>
        kube.Client.CoreV1.ListNamespacedPod(ns, labelSelector: $"batch.kubernetes.io/job-name={job}").Items
            .Where(p => p.Metadata.DeletionTimestamp is null).OrderBy(p => p.Metadata.Name).ToList();

    async Task<List<V1Pod>> WaitForPods(string ns, string job, int count)
    {
        await Eventually.True(() => Pods(ns, job).Count(p => p.Status?.Phase is not ("Succeeded" or "Failed")) == count, $"{count} active pods of job {job}");
        return Pods(ns, job).Where(p => p.Status?.Phase is not ("Succeeded" or "Failed")).ToList();
    }

    [Fact]
    public async Task An_indexed_job_completes_when_every_index_succeeds_through_patched_pod_status()
    {
        var ns = kube.Namespace("indexed");
        kube.Kubectl.Apply(JobYaml(ns, "train", completions: 3, parallelism: 2, mode: "Indexed")).Ok();
        var pods = await WaitForPods(ns, "train", 2);
        Assert.Equal(["0", "1"], pods.Select(p => p.Metadata.Annotations["batch.kubernetes.io/job-completion-index"]));
        Assert.Equal(["train-0", "train-1"], pods.Select(p => p.Spec.Hostname));
        Assert.All(pods, p => Assert.Equal("train", p.Spec.Subdomain));
        Assert.All(pods, p => Assert.StartsWith($"train-{p.Metadata.Annotations["batch.kubernetes.io/job-completion-index"]}-", p.Metadata.Name));
        Assert.All(pods, p => Assert.Contains(p.Spec.Containers[0].Env, e => e.Name == "JOB_COMPLETION_INDEX"));
        Assert.All(pods, p => Assert.Equal("Job", p.Metadata.OwnerReferences.Single(o => o.Controller == true).Kind));
        Assert.Equal("2", kube.Kubectl.Run("get", "job", "train", "-n", ns, "-o", "jsonpath={.status.active}").Ok().Stdout);

        kube.Kubectl.Run("patch", "pod", pods[0].Metadata.Name, "-n", ns, "--subresource=status", "--type=merge", "-p", Finished(true, """{"mAP":0.91}""")).Ok();
        var next = await WaitForPods(ns, "train", 2);
        Assert.Contains(next, p => p.Metadata.Annotations["batch.kubernetes.io/job-completion-index"] == "2");
        Assert.Equal("0", kube.Kubectl.Run("get", "job", "train", "-n", ns, "-o", "jsonpath={.status.completedIndexes}").Ok().Stdout);
        var finishedPod = await kube.Client.CoreV1.ReadNamespacedPodAsync(pods[0].Metadata.Name, ns);
        Assert.Equal("""{"mAP":0.91}""", finishedPod.Status.ContainerStatuses[0].State.Terminated.Message);
        Assert.Null(finishedPod.Metadata.Finalizers);

        foreach (var pod in next)
            kube.Kubectl.Run("patch", "pod", pod.Metadata.Name, "-n", ns, "--subresource=status", "--type=merge", "-p", Finished(true, "ok")).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Complete", "job/train", "-n", ns, "--timeout=10s").Ok();
        var job = await kube.Client.BatchV1.ReadNamespacedJobAsync("train", ns);
        Assert.Equal(3, job.Status.Succeeded);
        Assert.Equal("0-2", job.Status.CompletedIndexes);
        Assert.Null(job.Status.Active);
        Assert.NotNull(job.Status.CompletionTime);
        Assert.Matches(@"train\s+3/3", kube.Kubectl.Run("get", "job", "train", "-n", ns).Ok().Stdout);
        var described = kube.Kubectl.Run("describe", "job", "train", "-n", ns).Ok().Stdout;
        Assert.Contains("SuccessfulCreate", described);
        Assert.Contains("Job completed", described);
    }

    [Fact]
    public async Task Failures_beyond_backoffLimit_fail_the_job_and_replacements_are_created_before_that()
    {
        var ns = kube.Namespace("backoff");
        kube.Kubectl.Apply(JobYaml(ns, "flaky", completions: 1, parallelism: 1, backoffLimit: 1)).Ok();
        var first = (await WaitForPods(ns, "flaky", 1)).Single();
        kube.Kubectl.Run("patch", "pod", first.Metadata.Name, "-n", ns, "--subresource=status", "--type=merge", "-p", Finished(false, "CUDA out of memory")).Ok();
        var second = (await WaitForPods(ns, "flaky", 1)).Single();
        Assert.NotEqual(first.Metadata.Name, second.Metadata.Name);
        kube.Kubectl.Run("patch", "pod", second.Metadata.Name, "-n", ns, "--subresource=status", "--type=merge", "-p", Finished(false, "again")).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Failed", "job/flaky", "-n", ns, "--timeout=10s").Ok();
        var job = await kube.Client.BatchV1.ReadNamespacedJobAsync("flaky", ns);
        Assert.Equal(2, job.Status.Failed);
        Assert.Equal("BackoffLimitExceeded", job.Status.Conditions.Single(c => c.Type == "Failed").Reason);
        await kube.Server.WaitForControllersAsync();
        Assert.Empty(await WaitForPods(ns, "flaky", 0));
    }

    [Fact]
    public async Task Suspending_a_job_removes_its_pods_and_resuming_recreates_them()
    {
        var ns = kube.Namespace("suspend");
        kube.Kubectl.Apply(JobYaml(ns, "paused", completions: 2, parallelism: 2, suspend: true)).Ok();
        kube.Kubectl.Run("wait", "--for=condition=Suspended", "job/paused", "-n", ns, "--timeout=10s").Ok();
        Assert.Empty(Pods(ns, "paused"));
        kube.Kubectl.Run("patch", "job", "paused", "-n", ns, "--type=merge", "-p", """{"spec":{"suspend":false}}""").Ok();
        await WaitForPods(ns, "paused", 2);
        kube.Kubectl.Run("patch", "job", "paused", "-n", ns, "--type=merge", "-p", """{"spec":{"suspend":true}}""").Ok();
        await WaitForPods(ns, "paused", 0);
        var job = await kube.Client.BatchV1.ReadNamespacedJobAsync("paused", ns);
        Assert.Null(job.Status.Failed);
        Assert.Equal("True", job.Status.Conditions.Single(c => c.Type == "Suspended").Status);
        var immutable = kube.Kubectl.Run("patch", "job", "paused", "-n", ns, "--type=merge", "-p", """{"spec":{"completions":5}}""").Fails();
        Assert.Contains("field is immutable", immutable.Stderr);
    }

    [Fact]
    public async Task Deleting_a_job_cascades_to_pods_with_kubectl_but_orphans_them_by_default_through_the_api()
    {
        var ns = kube.Namespace("jobgc");
        kube.Kubectl.Apply(JobYaml(ns, "a", completions: 1, parallelism: 1)).Ok();
        kube.Kubectl.Apply(JobYaml(ns, "b", completions: 1, parallelism: 1)).Ok();
        await WaitForPods(ns, "a", 1);
        await WaitForPods(ns, "b", 1);

        kube.Kubectl.Run("delete", "job", "a", "-n", ns).Ok();
        await Eventually.True(() => kube.Client.CoreV1.ListNamespacedPod(ns, labelSelector: "batch.kubernetes.io/job-name=a").Items.Count == 0, "pods of job a to be collected");

        // batch/v1 keeps the legacy orphan default for API clients that send no propagationPolicy.
        await kube.Client.BatchV1.DeleteNamespacedJobAsync("b", ns);
        await kube.Server.WaitForControllersAsync();
        var orphan = Assert.Single(kube.Client.CoreV1.ListNamespacedPod(ns, labelSelector: "batch.kubernetes.io/job-name=b").Items);
        Assert.Null(orphan.Metadata.OwnerReferences);
    }

    [Fact]
    public async Task ActiveDeadlineSeconds_fails_a_running_job_and_ttlSecondsAfterFinished_deletes_a_finished_one()
    {
        var ns = kube.Namespace("deadline");
        kube.Kubectl.Apply(JobYaml(ns, "slow", 1, 1).Replace("\"backoffLimit\"", "\"activeDeadlineSeconds\":1,\"backoffLimit\"")).Ok();
        await WaitForPods(ns, "slow", 1);
        kube.Kubectl.Run("wait", "--for=condition=Failed", "job/slow", "-n", ns, "--timeout=10s").Ok();
        var job = await kube.Client.BatchV1.ReadNamespacedJobAsync("slow", ns);
        Assert.Equal("DeadlineExceeded", job.Status.Conditions.Single(c => c.Type == "Failed").Reason);
        await WaitForPods(ns, "slow", 0);

        kube.Kubectl.Apply(JobYaml(ns, "short", 1, 1).Replace("\"backoffLimit\"", "\"ttlSecondsAfterFinished\":0,\"backoffLimit\"")).Ok();
        var pod = (await WaitForPods(ns, "short", 1)).Single();
        kube.Kubectl.Run("patch", "pod", pod.Metadata.Name, "-n", ns, "--subresource=status", "--type=merge", "-p", Finished(true, "done")).Ok();
        await Eventually.True(() => kube.Client.BatchV1.ListNamespacedJob(ns).Items.All(j => j.Metadata.Name != "short"), "the finished job to be deleted by its TTL");
        await Eventually.True(() => kube.Client.CoreV1.ListNamespacedPod(ns, labelSelector: "batch.kubernetes.io/job-name=short").Items.Count == 0, "its pods to go with it");
    }

    [Fact]
    public async Task The_kubelet_helper_reports_ready_and_finished_pods_that_the_job_counts()
    {
        var ns = kube.Namespace("kubelet");
        kube.Kubectl.Apply(JobYaml(ns, "pair", completions: 2, parallelism: 2)).Ok();
        var pods = await WaitForPods(ns, "pair", 2);
        kube.Server.Kubelet.Start(ns, pods[0].Metadata.Name);
        await Eventually.True(async () => (await kube.Client.BatchV1.ReadNamespacedJobAsync("pair", ns)).Status.Ready == 1, "ready to count the started pod");
        kube.Server.Kubelet.Finish(ns, pods[0].Metadata.Name, 0, """{"mAP":0.88}""");
        kube.Server.Kubelet.Finish(ns, pods[1].Metadata.Name, 0, "ok");
        kube.Kubectl.Run("wait", "--for=condition=Complete", "job/pair", "-n", ns, "--timeout=10s").Ok();
        var finished = await kube.Client.CoreV1.ReadNamespacedPodAsync(pods[0].Metadata.Name, ns);
        Assert.Equal("Succeeded", finished.Status.Phase);
        Assert.Equal("""{"mAP":0.88}""", finished.Status.ContainerStatuses.Single().State.Terminated.Message);
    }

    [Fact]
    public async Task A_pod_failure_policy_ignores_evictions_and_fails_the_job_on_a_fatal_exit_code()
    {
        var ns = kube.Namespace("pfp");
        var policy = "\"podFailurePolicy\":{\"rules\":[" +
            "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[2]}}," +
            "{\"action\":\"Ignore\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[137]}}]},";
        kube.Kubectl.Apply(JobYaml(ns, "strict", 1, 1, backoffLimit: 0).Replace("\"backoffLimit\"", policy + "\"backoffLimit\"")).Ok();
        var first = (await WaitForPods(ns, "strict", 1)).Single();
        kube.Server.Kubelet.Finish(ns, first.Metadata.Name, exitCode: 137, message: "OOMKilled");
        var second = (await WaitForPods(ns, "strict", 1)).Single();
        Assert.NotEqual(first.Metadata.Name, second.Metadata.Name);
        Assert.Null((await kube.Client.BatchV1.ReadNamespacedJobAsync("strict", ns)).Status.Failed);

        kube.Server.Kubelet.Finish(ns, second.Metadata.Name, exitCode: 2, message: "invalid config: MODEL.BACKBONE.DEPTH");
        kube.Kubectl.Run("wait", "--for=condition=Failed", "job/strict", "-n", ns, "--timeout=10s").Ok();
        var failed = (await kube.Client.BatchV1.ReadNamespacedJobAsync("strict", ns)).Status.Conditions.Single(c => c.Type == "Failed");
        Assert.Equal("PodFailurePolicy", failed.Reason);
        Assert.Contains("failed with exit code 2 matching FailJob rule at index 0", failed.Message);

        var invalid = kube.Kubectl.Apply(JobYaml(ns, "bad-policy", 1, 1).Replace("\"Never\"", "\"OnFailure\"").Replace("\"backoffLimit\"", policy + "\"backoffLimit\"")).Fails();
        Assert.Contains("may not be specified when template.spec.restartPolicy is different than Never", invalid.Stderr);
    }

    [Fact]
    public void A_job_with_an_invalid_template_is_rejected()
    {
        var ns = kube.Namespace("badjob");
        var always = kube.Kubectl.Apply(JobYaml(ns, "bad", 1, 1).Replace("\"Never\"", "\"Always\"")).Fails();
        Assert.Contains("spec.template.spec.restartPolicy: Unsupported value: \"Always\"", always.Stderr);
        var indexedWithoutCompletions = kube.Kubectl.Apply(JobYaml(ns, "bad", 1, 1, "Indexed").Replace("\"completions\":1,", "")).Fails();
        Assert.Contains("spec.completions: Required value", indexedWithoutCompletions.Stderr);
    }
}
