using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Api.Tests;

public class SerializationTests
{
    private const string DesignSketch = """
        {"apiVersion": "fastreid.io/v1alpha1", "kind": "ReidExperiment",
         "metadata": {"name": "exp1", "namespace": "team-a", "uid": "u-1", "generation": 2},
         "spec": {
           "dataset": {"name": "Market1501", "uri": "s3://datasets/market1501"},
           "config": {"MODEL": {"BACKBONE": {"DEPTH": "50x"}}, "SOLVER": {"BASE_LR": 0.00035}},
           "resources": {"nodes": 2, "gpusPerNode": 4, "cpu": 8, "memory": "32Gi"},
           "output": {"uri": "s3://models/exp1", "endpoint": "http://minio:9000", "secretRef": {"name": "s3-creds"}},
           "runPolicy": {"backoffLimit": 3, "activeDeadlineSeconds": 86400, "ttlSecondsAfterFinished": 3600, "suspend": false}
         }}
        """;

    [Fact]
    public void The_design_sketch_reads_with_camel_case_names_and_a_numeric_cpu()
    {
        var experiment = ApiJson.Deserialize<ReidExperiment>(DesignSketch);
        Assert.Equal("exp1", experiment.Metadata.Name);
        Assert.Equal("team-a", experiment.Metadata.Namespace);
        Assert.Equal(2, experiment.Spec.Resources.Nodes);
        Assert.Equal(4, experiment.Spec.Resources.GpusPerNode);
        Assert.Equal("8", experiment.Spec.Resources.Cpu);
        Assert.Equal("32Gi", experiment.Spec.Resources.Memory);
        Assert.Equal("s3-creds", experiment.Spec.Output!.SecretRef!.Name);
        Assert.Equal("AWS_ACCESS_KEY_ID", experiment.Spec.Output.SecretRef.AccessKeyIdKey);
        Assert.Equal(86400, experiment.Spec.RunPolicy.ActiveDeadlineSeconds);
        Assert.Equal("50x", experiment.Spec.Config!["MODEL"]!["BACKBONE"]!["DEPTH"]!.GetValue<string>());
        Assert.Empty(Validation.Validate(experiment));
    }

    [Fact]
    public void Missing_sections_take_their_defaults()
    {
        var experiment = ApiJson.Deserialize<ReidExperiment>("""{"metadata": {"name": "e"}, "spec": {"dataset": {"name": "Synthetic"}}}""");
        Assert.Equal(1, experiment.Spec.Resources.Nodes);
        Assert.Equal(0, experiment.Spec.Resources.GpusPerNode);
        Assert.Equal(3, experiment.Spec.RunPolicy.BackoffLimit);
        Assert.False(experiment.Spec.RunPolicy.Suspend);
        Assert.Null(experiment.Spec.Output);
    }

    [Fact]
    public void Status_writes_the_metric_names_users_query()
    {
        var status = new ReidExperimentStatus
        {
            Phase = Phases.Succeeded,
            Metrics = new ReidMetrics { MAP = 0.85, Rank1 = 0.93, MINP = 0.5 },
        };
        var json = JsonNode.Parse(ApiJson.Serialize(status))!;
        Assert.Equal(0.85, json["metrics"]!["mAP"]!.GetValue<double>());
        Assert.Equal(0.93, json["metrics"]!["rank1"]!.GetValue<double>());
        Assert.Equal(0.5, json["metrics"]!["mINP"]!.GetValue<double>());
        Assert.Null(json["metrics"]!["rank5"]);
        Assert.Null(json["conditions"]);
    }

    [Fact]
    public void Sweeps_read_a_search_space_keyed_by_config_key()
    {
        var sweep = ApiJson.Deserialize<TuneSweep>("""
            {"metadata": {"name": "s"}, "spec": {
              "template": {"dataset": {"name": "Synthetic"}, "output": {"uri": "/data/out"}},
              "searchSpace": {"SOLVER.BASE_LR": {"type": "loguniform", "min": 1.0e-5, "max": 1.0e-3},
                              "DATALOADER.NUM_INSTANCE": {"type": "choice", "values": [2, 4, 8]}},
              "algorithm": {"name": "bohb", "seed": 1, "settings": {"eta": 3}},
              "budget": {"key": "SOLVER.MAX_EPOCH"}, "parallelism": 4, "maxTrials": 24, "maxFailedTrials": 3}}
            """);
        Assert.Equal(2, sweep.Spec.SearchSpace.Count);
        Assert.Equal(3, sweep.Spec.SearchSpace["DATALOADER.NUM_INSTANCE"].Values!.Count);
        Assert.Equal("score", sweep.Spec.Objective.Metric);
        Assert.Equal(0.2, sweep.Spec.Validation.IdentityFraction);
        Assert.Empty(Validation.Validate(sweep));
    }
}
