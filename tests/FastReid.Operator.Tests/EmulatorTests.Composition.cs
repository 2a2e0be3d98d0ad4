using System.Text.Json;
using FastReid.Api.V1Alpha1;
using FastReid.Operator.Controllers;
using FastReid.Operator.Hosting;
using FastReid.Pipeline;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastReid.Operator.Tests;

/// <summary>
/// A parent kind that owns child ReidExperiments, as DistillJob and TuneSweep do: a test-only planner (not
/// the DistillJob controller, which this test's host runs instead) registered like any other, applied through
/// the real applier and cluster API.
/// </summary>
public sealed partial class EmulatorTests
{
    /// <summary>Plans one student ReidExperiment and reports, in a condition, what it observed of its children.</summary>
    private static readonly ControllerDefinition<DistillJob, DistillJobStatus> TestParent = new(
        ResourceKinds.DistillJob,
        (parent, observed, _) =>
        {
            var name = parent.Metadata.Name + "-student";
            var students = observed.Of<ReidExperiment>();
            List<ChildAction> actions = students.Any(s => s.Metadata.Name == name) ? [] : [new CreateChild(new ReidExperiment
            {
                Metadata = new ObjectMeta
                {
                    Name = name,
                    Namespace = parent.Metadata.Namespace,
                    Labels = new() { [ResourceKinds.DistillJob.OwnerLabel] = parent.Metadata.Name! },
                    OwnerReferences = [ChildObjects.CustomOwnerReference(parent)],
                },
                Spec = parent.Spec.Student,
            })];
            var touched = students.Select(s => s.Metadata.Annotations?.GetValueOrDefault("touched")).FirstOrDefault() ?? "no";
            var status = StatusUpdates.Copy(parent.Status ?? new DistillJobStatus());
            status.StudentExperiment = students.FirstOrDefault()?.Metadata.Name;
            status.Conditions = Conditions.Set(status.Conditions, new Condition
            {
                Type = "Observed", Status = "True", Reason = "Children", Message = $"{students.Count} student(s), touched={touched}",
            }, DateTimeOffset.UnixEpoch);
            return new Plan<DistillJobStatus>(actions, status, [], null);
        },
        (parent, _, _) => new Plan<DistillJobStatus>([], parent.Status ?? new DistillJobStatus(), [], null));

    [Fact]
    public async Task A_parent_creates_a_child_reid_experiment_observes_it_and_is_woken_by_its_changes()
    {
        // The class's operator would reconcile the same DistillJob with the real controller: only this host runs.
        await _stop.CancelAsync();
        Assert.Equal(0, await _running);
        var options = OperatorOptions.Parse(["--metrics-port", "0", "--leader-elect=false", "--identity", "op-parent"], _ => null);
        var host = new OperatorHost(options, _client, NullLoggerFactory.Instance, [TestParent]);
        using var stop = new CancellationTokenSource();
        var running = host.RunAsync(stop.Token);
        try
        {
            await Create("DistillJob", "distilljobs", "kd", $$"""{"teachers":[{"modelUri":"s3://models/t/model.pt"}],"student":{{OneNode}}}""");

            var child = await Eventually(async () => (await _client.CustomObjects.ListNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, "team-a", "reidexperiments",
                labelSelector: "fastreid.io/distilljob=kd") is var list ? Kube.KubernetesClusterApi.ToJsonObject(list)["items"]!.AsArray().SingleOrDefault() : null), "the child ReidExperiment");
            var owner = Assert.Single(child!["metadata"]!["ownerReferences"]!.AsArray())!;
            Assert.Equal(("DistillJob", "kd", true), (owner["kind"]!.GetValue<string>(), owner["name"]!.GetValue<string>(), owner["controller"]!.GetValue<bool>()));
            Assert.Equal("s3://models/drift", child["spec"]!["output"]!["uri"]!.GetValue<string>());

            // The parent saw its child through ChildIndex (observed.Of<ReidExperiment>()).
            string Observed(DistillJob p) => Conditions.Find(p.Status?.Conditions, "Observed")?.Message ?? "";
            var parent = await Eventually(async () => await Read<DistillJob>("distilljobs", "kd") is var p && Observed(p).StartsWith("1 student(s)", StringComparison.Ordinal) ? p : null, "the parent observing its child");
            Assert.Equal(("kd-student", "1 student(s), touched=no"), (parent.Status!.StudentExperiment, Observed(parent)));

            // A change to the child alone wakes the parent (the test planner never asks for a requeue).
            await _client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch("""{"metadata":{"annotations":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch),
                ApiGroup.Group, ApiGroup.Version, "team-a", "reidexperiments", "kd-student");
            await Eventually(async () => Observed(await Read<DistillJob>("distilljobs", "kd")) == "1 student(s), touched=yes" ? "" : null, "the parent woken by its child");
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, await running);
        }
    }
}
