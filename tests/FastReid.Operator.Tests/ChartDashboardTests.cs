using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastReid.Operator.Tests.Packaging;

namespace FastReid.Operator.Tests;

/// <summary>
/// The chart's Grafana dashboard: off by default, a ConfigMap for Grafana's sidecar when enabled, and JSON whose
/// panels query the metrics the operator and the trainer really expose (their names read from the sources).
/// </summary>
public sealed partial class ChartDashboardTests
{
    private readonly Chart _chart = new();

    [GeneratedRegex("Create(?:Gauge|Counter|Histogram)\\(\"(?<name>fastreid_[a-z0-9_]+)\"")]
    private static partial Regex MetricDefinition();

    [GeneratedRegex("fastreid_[a-z0-9_]+")]
    private static partial Regex MetricName();

    /// <summary>Metric names as the code registers them: the operator's and the trainer's.</summary>
    private static HashSet<string> Defined(params string[] source) =>
        [.. MetricDefinition().Matches(File.ReadAllText(Repo.PathOf(source))).Select(m => m.Groups["name"].Value)];

    private JsonObject Dashboard()
    {
        var map = Chart.Single(_chart.Objects(_chart.ValuesWith(("grafana.dashboard.enabled", "true"))), "ConfigMap", "fastreid-operator-dashboard");
        Assert.Equal("1", (string?)map["metadata"]!["labels"]!["grafana_dashboard"]);
        Assert.Equal("fastreid-system", (string?)map["metadata"]!["namespace"]);
        return JsonNode.Parse((string)map["data"]!["fastreid-k8s.json"]!)!.AsObject();
    }

    [Fact]
    public void The_dashboard_is_rendered_only_when_enabled()
    {
        Assert.DoesNotContain(_chart.Objects(), o => (string?)o["kind"] == "ConfigMap");
        Assert.Equal("fastreid-k8s", (string?)Dashboard()["uid"]);
    }

    [Fact]
    public void Every_panel_queries_metrics_the_operator_or_the_trainer_exposes_and_each_metric_has_a_panel()
    {
        var dashboard = Dashboard();
        Assert.False(string.IsNullOrEmpty((string?)dashboard["title"]));
        Assert.Contains(dashboard["templating"]!["list"]!.AsArray(), v => (string?)v!["name"] == "datasource" && (string?)v["type"] == "datasource");
        var operatorMetrics = Defined("operator", "src", "FastReid.Operator", "Hosting", "OperatorMetrics.cs");
        var trainerMetrics = Defined("trainer-image", "src", "FastReid.Core", "engine", "TrainingMetrics.cs");
        Assert.True(operatorMetrics.Count >= 6 && trainerMetrics.Count >= 12, $"metric names read: {operatorMetrics.Count} of the operator, {trainerMetrics.Count} of the trainer");

        var panels = dashboard["panels"]!.AsArray().Select(p => p!.AsObject()).Where(p => (string?)p["type"] != "row").ToList();
        var ids = new HashSet<long>();
        var queried = new HashSet<string>(StringComparer.Ordinal);
        foreach (var panel in panels)
        {
            var title = (string?)panel["title"];
            Assert.False(string.IsNullOrEmpty(title));
            Assert.True(ids.Add((long)panel["id"]!), $"panel id {panel["id"]} is used twice");
            var grid = panel["gridPos"]!;
            Assert.True((long)grid["w"]! is > 0 and <= 24 && (long)grid["x"]! + (long)grid["w"]! <= 24, $"panel '{title}' does not fit the 24-column grid");
            var targets = panel["targets"]!.AsArray();
            Assert.NotEmpty(targets);
            foreach (var expr in targets.Select(t => (string)t!["expr"]!))
            {
                foreach (var name in MetricName().Matches(expr).Select(m => m.Value))
                {
                    var metric = Regex.Replace(name, "_(bucket|sum|count)$", "");
                    Assert.True(operatorMetrics.Contains(metric) || trainerMetrics.Contains(metric), $"panel '{title}' queries {name}, which neither the operator nor the trainer exposes");
                    queried.Add(metric);
                }
                Assert.Equal(expr.Count(c => c == '('), expr.Count(c => c == ')'));
            }
        }
        Assert.Empty(operatorMetrics.Concat(trainerMetrics).Where(m => !queried.Contains(m)).Select(m => $"no panel shows {m}"));
    }
}
