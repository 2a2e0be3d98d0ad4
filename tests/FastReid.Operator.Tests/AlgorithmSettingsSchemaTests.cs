using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.KubeEmulator;
using FastReid.Operator.Tests.Packaging;
using FastReid.Pipeline.Tune;

namespace FastReid.Operator.Tests;

/// <summary>
/// spec.algorithm.settings is typed in the CRD (ranges the API server enforces) yet keeps undeclared fields, so
/// that a misspelled setting reaches the operator, which names it, instead of being pruned without a word.
/// </summary>
public sealed class AlgorithmSettingsSchemaTests
{
    private const string Sweep = """
        apiVersion: fastreid.io/v1alpha1
        kind: TuneSweep
        metadata: {name: typo}
        spec:
          template: {dataset: {name: Synthetic}}
          searchSpace: {SOLVER.BASE_LR: {type: loguniform, min: 1.0e-5, max: 1.0e-3}}
          algorithm: {name: bohb, settings: {eta: 3, maxBudgt: 27}}
          budget: {key: SOLVER.MAX_EPOCH}
        """;

    [Fact]
    public async Task A_misspelled_setting_survives_kubectl_and_the_server_and_the_operator_names_it()
    {
        await using var kube = await KubeEmulatorServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("settings-").FullName;
        try
        {
            var kubeconfig = kube.WriteKubeconfig(Path.Combine(dir, "kubeconfig"));
            var cache = Path.Combine(dir, "cache");
            await Repo.KubectlOk(kubeconfig, cache, "apply", "-f", Repo.PathOf("crds"));
            File.WriteAllText(Path.Combine(dir, "sweep.yaml"), Sweep);
            await Repo.KubectlOk(kubeconfig, cache, "apply", "--validate=strict", "-f", Path.Combine(dir, "sweep.yaml"));
            var stored = JsonNode.Parse(await Repo.KubectlOk(kubeconfig, cache, "get", "tunesweep", "typo", "-o", "json"))!;
            Assert.Equal(27, (int)stored["spec"]!["algorithm"]!["settings"]!["maxBudgt"]!);

            var sweep = ApiJson.Deserialize<TuneSweep>(stored.ToJsonString());
            var errors = Validation.Validate(sweep).ToList();
            var space = SearchSpace.Parse(sweep.Spec.SearchSpace, errors);
            Assert.Null(SearchAlgorithms.Create(sweep.Spec, space!, errors));
            var error = Assert.Single(errors);
            Assert.Equal("spec.algorithm.settings.maxBudgt", error.Path);
            Assert.StartsWith("maxBudgt is not a setting of bohb (did you mean maxBudget?)", error.Message);

            // A declared setting out of its range is the server's to refuse.
            File.WriteAllText(Path.Combine(dir, "bad.yaml"), Sweep.Replace("name: typo", "name: bad").Replace("maxBudgt: 27", "maxBudget: 27").Replace("eta: 3", "eta: 1"));
            var refused = await Repo.Kubectl(kubeconfig, cache, "apply", "-f", Path.Combine(dir, "bad.yaml"));
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("spec.algorithm.settings.eta", refused.Output + refused.Error);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
