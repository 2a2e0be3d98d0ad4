using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using FastReid.Pipeline.Progress;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

/// <summary>The trainer's metrics page read as status.progress, and when and how the planner reads it.</summary>
public sealed class ProgressTests
{
    /// <summary>A page as the trainer serves it (prometheus-net's text format, a real run's figures).</summary>
    private const string Page = """
        # HELP fastreid_train_loss Total training loss of the last iteration.
        # TYPE fastreid_train_loss gauge
        fastreid_train_loss 3.355047345161438
        # HELP fastreid_train_loss_term Each weighted loss term of the last iteration.
        # TYPE fastreid_train_loss_term gauge
        fastreid_train_loss_term{term="loss_cls"} 1.3887461423873901
        fastreid_train_learning_rate 9.800000000000001e-05
        fastreid_train_images_per_second 4.120857418855773
        fastreid_train_epoch 3
        fastreid_train_max_epoch 10
        fastreid_train_iteration 178
        fastreid_train_max_iteration 480
        fastreid_train_eta_seconds 1836.511005
        fastreid_eval_map 0.8125
        fastreid_eval_rank1 0.9
        fastreid_eval_epoch 2
        """;

    [Fact]
    public void The_trainer_gauges_become_epoch_iteration_percent_eta_speed_loss_and_the_last_evaluation()
    {
        var p = TrainerProgress.Parse(Page, T0, out var error)!;
        Assert.Null(error);
        Assert.Equal((3, 10, 178L, 480L), (p.Epoch, p.MaxEpoch, p.Iteration, p.MaxIteration));
        Assert.Equal(37.1, p.Percent);
        Assert.Equal("37% e3/10", p.Summary);
        Assert.Equal(1837, p.EtaSeconds);
        Assert.Equal(4.1, p.ImagesPerSecond);
        Assert.Equal(3.355047345161438, p.Loss);
        Assert.Equal(9.800000000000001e-05, p.LearningRate);
        Assert.Equal((2, 0.8125, 0.9), (p.LastEvaluation!.Epoch, p.LastEvaluation.MAP, p.LastEvaluation.Rank1));
        Assert.Equal(T0, p.ObservedAt);
    }

    [Fact]
    public void Before_the_first_evaluation_there_is_no_last_evaluation_and_nan_gauges_are_left_out()
    {
        var page = Page.Replace("fastreid_eval_epoch 2", "fastreid_eval_epoch 0", StringComparison.Ordinal)
            .Replace("fastreid_train_loss 3.355047345161438", "fastreid_train_loss NaN", StringComparison.Ordinal);
        var p = TrainerProgress.Parse(page, T0, out _)!;
        Assert.Null(p.LastEvaluation);
        Assert.Null(p.Loss);
    }

    [Theory]
    [InlineData("fastreid_train_iteration 0\nfastreid_train_max_iteration 0\n", "the trainer has not finished an iteration yet")]
    [InlineData("# TYPE http_requests_total counter\nhttp_requests_total 3\n", "the page has no fastreid_train_iteration and fastreid_train_max_iteration gauges")]
    [InlineData("<html>not found</html>", "the page has no fastreid_train_iteration")]
    public void A_page_without_a_training_position_gives_no_progress_and_says_why(string page, string why)
    {
        Assert.Null(TrainerProgress.Parse(page, T0, out var error));
        Assert.Contains(why, error);
    }

    [Fact]
    public void Labelled_series_comments_and_timestamps_are_read_as_prometheus_defines_them()
    {
        var samples = TrainerProgress.Samples("# HELP a b\nup{job=\"x\"} 1\nfastreid_train_epoch 4 1700000000000\nbad line here too\nx +Inf\n");
        Assert.Equal(4, samples["fastreid_train_epoch"]);
        Assert.True(double.IsPositiveInfinity(samples["x"]));
        Assert.False(samples.ContainsKey("up"));
        Assert.Equal(2, samples.Count);
    }

    private static (ReidExperiment Experiment, ObservedChildren Observed) Running(DateTimeOffset now, string? podIp = "10.1.2.3")
    {
        var e = Experiment(nodes: 1, gpus: 0);
        var first = Plan(e);
        var run = first.Status.JobName!;
        var pod = Pod(run, 0, "Running");
        pod.Status.PodIP = podIp;
        var observed = Created(first, now, j => j.Status.Active = 1, pod);
        return (e.WithStatus(Plan(e.WithStatus(first.Status), observed).Status), observed);
    }

    [Fact]
    public void The_planner_reads_the_running_rank_zero_pod_by_its_ip_on_the_trainer_metrics_port_at_most_once_per_interval()
    {
        var (e, observed) = Running(T0.AddMinutes(1));
        Assert.Equal(new Uri("http://10.1.2.3:9400/metrics"), ReidExperimentPlanner.ProgressTarget(e, observed));
        Assert.Null(ReidExperimentPlanner.ProgressTarget(e, observed, new PlannerOptions { TrainerMetricsPort = 0 }));

        e.Status!.Progress = new TrainingProgress { ObservedAt = T0.AddMinutes(1).AddSeconds(-5) };
        Assert.Null(ReidExperimentPlanner.ProgressTarget(e, observed));
        e.Status.Progress.ObservedAt = T0.AddMinutes(1).AddSeconds(-15);
        Assert.NotNull(ReidExperimentPlanner.ProgressTarget(e, observed));

        var (_, withoutIp) = Running(T0.AddMinutes(1), podIp: null);
        Assert.Null(ReidExperimentPlanner.ProgressTarget(e, withoutIp));
        var (_, ipv6) = Running(T0.AddMinutes(1), podIp: "fd00::7");
        Assert.Equal(new Uri("http://[fd00::7]:9400/metrics"), ReidExperimentPlanner.ProgressTarget(e, ipv6));
    }

    [Fact]
    public void The_trainer_pod_serves_metrics_on_the_port_the_operator_reads()
    {
        var job = Plan(Experiment(nodes: 1, gpus: 0), options: new PlannerOptions { TrainerMetricsPort = 9555 }).Actions.OfType<CreateChild>().Select(c => c.Object).OfType<V1Job>().Single();
        var trainer = job.Spec.Template.Spec.Containers[0];
        Assert.Equal(["--metrics-port", "9555"], trainer.Args.SkipWhile(a => a != "--metrics-port").Take(2));
        Assert.Contains(trainer.Ports, p => p.Name == "metrics" && p.ContainerPort == 9555);
    }

    [Fact]
    public void A_read_page_sets_the_progress_and_a_running_look_comes_back_within_the_interval()
    {
        var (e, observed) = Running(T0.AddMinutes(1));
        var plan = Plan(e, observed.With<MetricsScrape>([new MetricsScrape(new Uri("http://10.1.2.3:9400/metrics"), Page, null, T0.AddMinutes(1))]));
        Assert.Equal("37% e3/10", plan.Status.Progress!.Summary);
        Assert.Equal("1 of 1 pod(s) running", Conditions.Find(plan.Status.Conditions, ConditionTypes.Running)!.Message);
        Assert.Equal(TimeSpan.FromSeconds(15), plan.RequeueAfter);
    }

    [Fact]
    public void A_failed_read_changes_only_the_running_condition_message()
    {
        var (e, observed) = Running(T0.AddMinutes(1));
        var read = Plan(e, observed.With<MetricsScrape>([new MetricsScrape(new Uri("http://10.1.2.3:9400/metrics"), Page, null, T0.AddMinutes(1))]));
        e.WithStatus(read.Status);
        var before = ApiJson.Serialize(read.Status);

        var failed = Plan(e, observed.With<MetricsScrape>([new MetricsScrape(new Uri("http://10.1.2.3:9400/metrics"), null, "Connection refused (10.1.2.3:9400)", T0.AddMinutes(2))]));
        var running = Conditions.Find(failed.Status.Conditions, ConditionTypes.Running)!;
        Assert.Equal("1 of 1 pod(s) running; progress not read from http://10.1.2.3:9400/metrics: Connection refused (10.1.2.3:9400)", running.Message);
        Assert.Equal(("True", "PodsRunning"), (running.Status, running.Reason));
        Assert.Equal(ApiJson.Serialize(read.Status.Progress), ApiJson.Serialize(failed.Status.Progress));
        // nothing else differs: put the message back and the statuses are equal
        var restored = failed.Status.Conditions!.Select(c => c.Type == ConditionTypes.Running ? c with { Message = "1 of 1 pod(s) running" } : c).ToList();
        failed.Status.Conditions = restored;
        Assert.Equal(before, ApiJson.Serialize(failed.Status));
        Assert.Empty(failed.Actions);
        Assert.Empty(failed.Events);
    }

    [Fact]
    public void A_run_that_succeeds_after_its_last_reading_shows_every_iteration_done()
    {
        var (e, observed) = Running(T0.AddMinutes(1));
        var read = Plan(e, observed.With<MetricsScrape>([new MetricsScrape(new Uri("http://10.1.2.3:9400/metrics"), Page, null, T0.AddMinutes(1))]));
        e.WithStatus(read.Status);
        var run = read.Status.JobName!;
        var done = T0.AddMinutes(2);
        var finished = Plan(e, Created(Plan(Experiment(nodes: 1, gpus: 0)), done, j => Complete(j, done), Pod(run, 0, "Succeeded", ResultJson)));
        Assert.Equal(Phases.Succeeded, finished.Status.Phase);
        var progress = finished.Status.Progress!;
        Assert.Equal(("100% e10/10", 100.0, 480L, 10, 0L), (progress.Summary, progress.Percent, progress.Iteration, progress.Epoch, progress.EtaSeconds));
        Assert.Equal(read.Status.Progress!.LastEvaluation!.MAP, progress.LastEvaluation!.MAP);
    }
}
