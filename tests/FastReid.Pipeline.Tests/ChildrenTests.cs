using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Experiments;
using k8s.Models;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public class ChildrenTests
{
    private static (V1ConfigMap ConfigMap, V1Service Service, V1Job Job) FirstRun(ReidExperiment e, PlannerOptions? options = null)
    {
        var created = Plan(e, options: options).Actions.Cast<CreateChild>().Select(c => c.Object).ToList();
        Assert.Equal(3, created.Count);
        return (created.OfType<V1ConfigMap>().Single(), created.OfType<V1Service>().Single(), created.OfType<V1Job>().Single());
    }

    private static Dictionary<string, V1EnvVar> Env(V1Job job) =>
        job.Spec.Template.Spec.Containers.Single().Env.ToDictionary(v => v.Name);

    [Fact]
    public void Two_nodes_with_four_gpus_make_an_indexed_job_of_two_pods_and_eight_workers()
    {
        var (_, _, job) = FirstRun(Experiment(nodes: 2, gpus: 4));
        Assert.Equal("Indexed", job.Spec.CompletionMode);
        Assert.Equal(2, job.Spec.Completions);
        Assert.Equal(2, job.Spec.Parallelism);
        var env = Env(job);
        Assert.Equal("8", env["WORLD_SIZE"].Value);
        Assert.Equal("2", env["NNODES"].Value);
        Assert.Equal("4", env["NPROC_PER_NODE"].Value);
        Assert.False(env.ContainsKey("LOCAL_RANK")); // the launcher in the pod gives each worker its own
        Assert.False(env.ContainsKey("RANK"));
        Assert.Equal("29500", env["MASTER_PORT"].Value);
        Assert.Equal("metadata.annotations['batch.kubernetes.io/job-completion-index']", env["NODE_RANK"].ValueFrom.FieldRef.FieldPath);
        Assert.Equal("metadata.annotations['batch.kubernetes.io/job-completion-index']", env["JOB_COMPLETION_INDEX"].ValueFrom.FieldRef.FieldPath);
        var container = job.Spec.Template.Spec.Containers.Single();
        Assert.Equal("4", container.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal("8", container.Resources.Limits["cpu"].ToString());
        Assert.Equal("32Gi", container.Resources.Requests["memory"].ToString());
    }

    [Fact]
    public void Each_pod_runs_the_trainer_launcher_with_one_worker_per_gpu_and_no_shell()
    {
        var (_, _, job) = FirstRun(Experiment(nodes: 2, gpus: 2));
        var container = job.Spec.Template.Spec.Containers.Single();
        Assert.Equal(["fastreid"], container.Command);
        Assert.Equal(["train", "--nproc-per-node", "2", "--config", "/etc/fastreid/config.yaml", "--metrics-port", "9400"], container.Args);
        // the launcher's inputs: worker i of pod NODE_RANK n becomes RANK 2n + i of WORLD_SIZE 4
        var env = Env(job);
        Assert.Equal("2", env["NNODES"].Value);
        Assert.Equal("2", env["NPROC_PER_NODE"].Value);
        Assert.Equal("4", env["WORLD_SIZE"].Value);
        Assert.Equal("metadata.annotations['batch.kubernetes.io/job-completion-index']", env["NODE_RANK"].ValueFrom.FieldRef.FieldPath);
        Assert.Equal($"{job.Metadata.Name}-0.{job.Metadata.Name}.team-a.svc", env["MASTER_ADDR"].Value);
        Assert.Equal("29500", env["MASTER_PORT"].Value);
    }

    [Fact]
    public void A_cpu_run_has_one_worker_per_pod_and_no_gpu_limit()
    {
        var (configMap, _, job) = FirstRun(Experiment(nodes: 3, gpus: 0));
        var env = Env(job);
        Assert.Equal("3", env["WORLD_SIZE"].Value);
        Assert.Equal("1", env["NPROC_PER_NODE"].Value);
        Assert.Equal(["train", "--nproc-per-node", "1", "--config", "/etc/fastreid/config.yaml", "--metrics-port", "9400"], job.Spec.Template.Spec.Containers.Single().Args);
        Assert.False(job.Spec.Template.Spec.Containers.Single().Resources.Limits.ContainsKey("nvidia.com/gpu"));
        Assert.DoesNotContain(job.Spec.Template.Spec.Volumes, v => v.Name == "dshm");
        Assert.Contains("DEVICE: 'cpu'", configMap.Data["config.yaml"]);
    }

    [Fact]
    public void Master_address_is_the_index_zero_pod_through_the_headless_service()
    {
        var (_, service, job) = FirstRun(Experiment());
        var run = job.Metadata.Name;
        Assert.Equal("None", service.Spec.ClusterIP);
        Assert.True(service.Spec.PublishNotReadyAddresses);
        Assert.Equal(run, service.Metadata.Name);
        Assert.Equal(run, job.Spec.Template.Spec.Subdomain);
        Assert.Equal($"{run}-0.{run}.team-a.svc", Env(job)["MASTER_ADDR"].Value);
        // The Service selects exactly the run's pods.
        var podLabels = job.Spec.Template.Metadata.Labels;
        Assert.All(service.Spec.Selector, s => Assert.Equal(s.Value, podLabels[s.Key]));
        Assert.Equal(29500, service.Spec.Ports.Single().Port);
    }

    [Fact]
    public void S3_credentials_come_only_from_secret_key_refs()
    {
        var (configMap, _, job) = FirstRun(Experiment());
        var env = Env(job);
        Assert.Equal("s3-creds", env["AWS_ACCESS_KEY_ID"].ValueFrom.SecretKeyRef.Name);
        Assert.Equal("AWS_ACCESS_KEY_ID", env["AWS_ACCESS_KEY_ID"].ValueFrom.SecretKeyRef.Key);
        Assert.Equal("AWS_SECRET_ACCESS_KEY", env["AWS_SECRET_ACCESS_KEY"].ValueFrom.SecretKeyRef.Key);
        Assert.Null(env["AWS_ACCESS_KEY_ID"].Value);
        Assert.Null(env["AWS_SECRET_ACCESS_KEY"].Value);
        Assert.Equal("http://minio:9000", env["AWS_ENDPOINT_URL"].Value);
        Assert.DoesNotContain("AWS_", configMap.Data["config.yaml"]);
    }

    [Fact]
    public void Custom_secret_keys_are_used()
    {
        var e = Experiment();
        e.Spec.Output!.SecretRef = new SecretReference { Name = "minio", AccessKeyIdKey = "accesskey", SecretAccessKeyKey = "secretkey" };
        var env = Env(FirstRun(e).Job);
        Assert.Equal("accesskey", env["AWS_ACCESS_KEY_ID"].ValueFrom.SecretKeyRef.Key);
        Assert.Equal("secretkey", env["AWS_SECRET_ACCESS_KEY"].ValueFrom.SecretKeyRef.Key);
    }

    [Fact]
    public void Without_a_secret_no_credential_variables_are_set()
    {
        var e = Experiment();
        e.Spec.Output = new OutputSpec { Uri = "pvc://models/x" };
        var env = Env(FirstRun(e).Job);
        Assert.DoesNotContain(env.Keys, k => k.StartsWith("AWS_", StringComparison.Ordinal));
    }

    [Fact]
    public void The_trainer_is_locked_down_and_reports_through_the_termination_log()
    {
        var (_, _, job) = FirstRun(Experiment());
        var pod = job.Spec.Template.Spec;
        var container = pod.Containers.Single();
        Assert.Equal("FallbackToLogsOnError", container.TerminationMessagePolicy);
        Assert.Equal("/dev/termination-log", container.TerminationMessagePath);
        Assert.Equal("/dev/termination-log", Env(job)["FASTREID_RESULT_FILE"].Value);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.True(container.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", container.SecurityContext.SeccompProfile.Type);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.Equal("Never", pod.RestartPolicy);
        Assert.False(pod.AutomountServiceAccountToken);
        // Writable scratch despite the read-only root, and shared memory for GPU data loaders.
        Assert.Contains(container.VolumeMounts, m => m.MountPath == "/tmp");
        Assert.Contains(container.VolumeMounts, m => m.MountPath == "/dev/shm");
        Assert.Contains(container.VolumeMounts, m => m.MountPath == "/etc/fastreid" && m.ReadOnlyProperty == true);
    }

    [Fact]
    public void Every_child_is_owned_by_the_experiment_as_its_controller()
    {
        var e = Experiment();
        foreach (var child in Plan(e).Actions.Cast<CreateChild>().Select(c => (k8s.IKubernetesObject<V1ObjectMeta>)c.Object))
        {
            var owner = Assert.Single(child.Metadata.OwnerReferences);
            Assert.Equal(("fastreid.io/v1alpha1", "ReidExperiment", "market-r50", "0f9e-uid"), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid));
            Assert.True(owner.Controller);
            Assert.True(owner.BlockOwnerDeletion);
            Assert.Equal("team-a", child.Metadata.NamespaceProperty);
            Assert.Equal("market-r50", child.Metadata.Labels[ResourceKinds.ReidExperiment.OwnerLabel]);
        }
    }

    [Fact]
    public void Run_policy_maps_onto_the_job()
    {
        var e = Experiment();
        e.Spec.RunPolicy = new RunPolicy { BackoffLimit = 7, ActiveDeadlineSeconds = 600, TtlSecondsAfterFinished = 60, Suspend = true };
        var job = FirstRun(e).Job;
        Assert.Equal(7, job.Spec.BackoffLimit);
        Assert.Equal(600, job.Spec.ActiveDeadlineSeconds);
        Assert.True(job.Spec.Suspend);
        Assert.Null(job.Spec.TtlSecondsAfterFinished); // the operator removes all children itself and keeps the status
    }

    [Fact]
    public void Usage_errors_fail_the_run_at_once_and_evictions_do_not_count()
    {
        var rules = FirstRun(Experiment()).Job.Spec.PodFailurePolicy.Rules;
        var failJob = Assert.Single(rules, r => r.Action == "FailJob");
        Assert.Equal(("trainer", "In"), (failJob.OnExitCodes.ContainerName, failJob.OnExitCodes.OperatorProperty));
        Assert.Equal([2, 4], failJob.OnExitCodes.Values);
        var ignore = Assert.Single(rules, r => r.Action == "Ignore");
        Assert.Equal("DisruptionTarget", Assert.Single(ignore.OnPodConditions).Type);
    }

    [Fact]
    public void Image_comes_from_the_spec_or_the_operator_default()
    {
        var options = new PlannerOptions { TrainerImage = "registry.local/fastreid:1.0" };
        Assert.Equal("registry.local/fastreid:1.0", FirstRun(Experiment(), options).Job.Spec.Template.Spec.Containers[0].Image);
        var e = Experiment();
        e.Spec.Resources.Image = "mine:2";
        Assert.Equal("mine:2", FirstRun(e, options).Job.Spec.Template.Spec.Containers[0].Image);
    }

    [Fact]
    public void Default_storage_gives_each_experiment_its_own_prefix()
    {
        var e = Experiment();
        e.Spec.Output = null;
        var options = new PlannerOptions { DefaultStorage = new OutputSpec { Uri = "s3://fastreid/", Endpoint = "http://minio:9000", SecretRef = new SecretReference { Name = "default-s3" } } };
        var (configMap, _, job) = FirstRun(e, options);
        Assert.Contains("OUTPUT_DIR: 's3://fastreid/team-a/market-r50'", configMap.Data["config.yaml"]);
        Assert.Equal("default-s3", Env(job)["AWS_SECRET_ACCESS_KEY"].ValueFrom.SecretKeyRef.Name);
    }

    [Fact]
    public void A_synthetic_dataset_is_written_by_an_init_container_into_the_datasets_folder()
    {
        var e = Experiment(gpus: 2);
        e.Spec.Dataset = new DatasetSpec { Name = "Synthetic", Synthetic = new SyntheticDatasetSpec { Identities = 60, Cameras = 4, Seed = 7, TrainImages = 8 } };
        var pod = FirstRun(e).Job.Spec.Template.Spec;
        var synth = Assert.Single(pod.InitContainers);
        Assert.Equal(["fastreid"], synth.Command);
        Assert.Equal(["data", "synth", "--out", "/var/lib/fastreid/datasets", "--identities", "60", "--train-images", "8", "--cameras", "4", "--seed", "7"], synth.Args);
        Assert.False(synth.Resources.Limits.ContainsKey("nvidia.com/gpu"));
        Assert.True(synth.SecurityContext.ReadOnlyRootFilesystem);
        Assert.Contains(synth.VolumeMounts, m => m.MountPath == "/var/lib/fastreid/datasets");
        var trainer = pod.Containers.Single();
        Assert.Contains(trainer.VolumeMounts, m => m.MountPath == "/var/lib/fastreid/datasets");
        Assert.Equal("/var/lib/fastreid/datasets", trainer.Env.Single(v => v.Name == "FASTREID_DATASETS").Value);
    }

    [Fact]
    public void An_s3_dataset_is_fetched_by_the_trainer_into_the_datasets_folder()
    {
        var pod = FirstRun(Experiment()).Job.Spec.Template.Spec;
        Assert.Null(pod.InitContainers);
        var env = pod.Containers.Single().Env.ToDictionary(v => v.Name);
        Assert.Equal("s3://datasets/market1501", env["FASTREID_DATASET_URI"].Value);
        Assert.Equal("/var/lib/fastreid/datasets", env["FASTREID_DATASETS"].Value);
    }
}
