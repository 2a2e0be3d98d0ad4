using System.Security.Cryptography;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline;
using FastReid.Pipeline.Experiments;

namespace FastReid.Cli.Tests;

/// <summary>
/// The two sides of a pvc:// output meet: the pod an experiment with <c>output.uri: pvc://CLAIM/path</c> is planned
/// into is run by the real trainer with a folder standing for the claim, and the status its planner records from the
/// trainer's result names pvc:// URIs whose files are in that folder.
/// </summary>
public sealed class ClaimContractTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("cli-pvc-contract-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_planned_pod_of_a_pvc_output_writes_into_the_claim_and_the_status_names_its_files_by_pvc_uri()
    {
        var claim = Path.Combine(_dir, "claims", "reid-models");
        var experiment = new ReidExperiment
        {
            Metadata = new ObjectMeta { Name = "on-claim", Namespace = "team-a", Uid = "uid-on-claim", Generation = 1 },
            Spec = DistillJobContractTests.Spec(widthMult: 0.25, featDim: 128, new OutputSpec { Uri = "pvc://reid-models/runs/on-claim" }),
        };
        var first = ReidExperimentPlanner.Plan(experiment, ObservedChildren.None(T0));
        var pods = PlannedPods.Of(first.Actions, Path.Combine(_dir, "pod"), new Dictionary<string, string> { ["reid-models"] = claim });
        var run = pods.Run();
        Assert.True(run.ExitCode == 0, $"fastreid {string.Join(" ", pods.Trainer.Args)}: exit {run.ExitCode}\n{run.Stderr}{run.Stdout}");

        var pod = pods.Finish(run, T0, T0.AddMinutes(1));
        experiment.Status = first.Status;
        var done = ReidExperimentPlanner.Plan(experiment, ObservedChildren.None(T0.AddMinutes(2)).With([pods.Job]).With([pod]));

        Assert.Equal(Phases.Succeeded, done.Status.Phase);
        var artefacts = done.Status.Artefacts!;
        Assert.Equal("pvc://reid-models/runs/on-claim/model_final.pth", artefacts.Model);
        Assert.Equal("pvc://reid-models/runs/on-claim/config.yaml", artefacts.Config);
        foreach (var uri in new[] { artefacts.Model, artefacts.Config, artefacts.Metrics, artefacts.Manifest })
            Assert.True(File.Exists(InClaim(claim, uri!)), $"{uri}: no such file in the claim's folder");
        var weights = File.ReadAllBytes(InClaim(claim, artefacts.Model!));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(weights)), artefacts.Sha256!["model_final.pth"]);
    }

    /// <summary>Where a pvc://reid-models/... URI is in the folder standing for the claim.</summary>
    private static string InClaim(string claimFolder, string uri)
    {
        const string prefix = "pvc://reid-models/";
        Assert.StartsWith(prefix, uri);
        return Path.Combine(claimFolder, uri[prefix.Length..]);
    }
}
