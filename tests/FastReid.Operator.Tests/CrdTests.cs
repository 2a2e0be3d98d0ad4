using FastReid.Operator.Crds;
using k8s.Models;

namespace FastReid.Operator.Tests;

public class CrdTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastReid.K8s.sln"))) return dir.FullName;
        throw new InvalidOperationException("FastReid.K8s.sln not found above " + AppContext.BaseDirectory);
    }

    private static V1CustomResourceDefinition Crd(string plural) => CrdGenerator.All().Single(c => c.Spec.Names.Plural == plural);

    private static V1JSONSchemaProps At(V1CustomResourceDefinition crd, string path)
    {
        var node = crd.Spec.Versions[0].Schema.OpenAPIV3Schema;
        foreach (var part in path.Split('.'))
            node = part == "*" ? (V1JSONSchemaProps)node.AdditionalProperties : part == "[]" ? (V1JSONSchemaProps)node.Items : node.Properties[part];
        return node;
    }

    [Fact]
    public void Checked_in_crds_match_the_api_types()
    {
        var dir = Path.Combine(RepositoryRoot(), "crds");
        var expected = CrdGenerator.All().ToDictionary(CrdGenerator.FileName, CrdGenerator.ToYaml);
        var present = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.yaml").Select(Path.GetFileName).ToHashSet() : [];
        foreach (var (file, yaml) in expected)
        {
            Assert.True(present.Contains(file), $"crds/{file} is missing: run `make crds`");
            Assert.True(yaml == File.ReadAllText(Path.Combine(dir, file)), $"crds/{file} is stale: run `make crds`");
        }
        Assert.Empty(present.Where(f => f!.StartsWith("fastreid.io_", StringComparison.Ordinal)).Except(expected.Keys));
    }

    [Theory]
    [InlineData("reidexperiments")]
    [InlineData("distilljobs")]
    [InlineData("tunesweeps")]
    [InlineData("exportjobs")]
    public void Every_crd_has_a_structural_schema(string plural)
    {
        var report = StructuralSchema.Check(Crd(plural));
        Assert.True(report.Problems.Count == 0, string.Join("\n", report.Problems));
    }

    [Fact]
    public void Unknown_fields_are_kept_only_in_free_form_trees_and_typed_settings()
    {
        var preserved = CrdGenerator.All().SelectMany(c => StructuralSchema.Check(c).PreservedPaths.Select(p => $"{c.Spec.Names.Kind}:{p}")).Order().ToList();
        Assert.Equal(
        [
            "DistillJob:spec.student.config",
            "ReidExperiment:spec.config",
            "TuneSweep:spec.algorithm.settings",
            "TuneSweep:spec.algorithm.settings.medianStopping",
            "TuneSweep:spec.searchSpace.*.values[]",
            "TuneSweep:spec.template.config",
            "TuneSweep:status.bestTrial.params",
            "TuneSweep:status.trials[].params",
        ], preserved);
    }

    [Fact]
    public void The_structural_check_catches_a_node_without_a_type()
    {
        var crd = Crd("reidexperiments");
        At(crd, "spec.resources.nodes").Type = null;
        At(crd, "spec.config").XKubernetesPreserveUnknownFields = null;
        At(crd, "spec.config").Type = null;
        var problems = StructuralSchema.Check(crd).Problems;
        Assert.Contains("spec.resources.nodes: no type", problems);
        Assert.Contains("spec.config: no type", problems);
    }

    [Theory]
    [InlineData("reidexperiments", "ReidExperiment", "rexp")]
    [InlineData("distilljobs", "DistillJob", "dj")]
    [InlineData("tunesweeps", "TuneSweep", "sweep")]
    [InlineData("exportjobs", "ExportJob", "export")]
    public void Names_scope_version_and_status_subresource(string plural, string kind, string shortName)
    {
        var crd = Crd(plural);
        Assert.Equal($"{plural}.fastreid.io", crd.Metadata.Name);
        Assert.Equal("fastreid.io", crd.Spec.Group);
        Assert.Equal("Namespaced", crd.Spec.Scope);
        Assert.Equal(kind, crd.Spec.Names.Kind);
        Assert.Equal([shortName], crd.Spec.Names.ShortNames);
        var version = Assert.Single(crd.Spec.Versions);
        Assert.Equal("v1alpha1", version.Name);
        Assert.True(version.Served && version.Storage);
        Assert.NotNull(version.Subresources.Status);
        var columns = version.AdditionalPrinterColumns.Select(c => c.Name).ToList();
        Assert.Equal("Phase", columns[0]);
        Assert.Equal("Age", columns[^1]);
        Assert.Equal(["spec"], version.Schema.OpenAPIV3Schema.Required);
    }

    [Fact]
    public void Experiment_columns_show_phase_map_and_age()
    {
        var columns = Crd("reidexperiments").Spec.Versions[0].AdditionalPrinterColumns;
        Assert.Contains(columns, c => c is { Name: "mAP", Type: "number", JsonPath: ".status.metrics.mAP" });
        Assert.Contains(columns, c => c is { Name: "Age", Type: "date", JsonPath: ".metadata.creationTimestamp" });
    }

    [Fact]
    public void Distill_columns_show_teacher_and_student_map_and_the_gain_in_points()
    {
        var columns = Crd("distilljobs").Spec.Versions[0].AdditionalPrinterColumns;
        Assert.Equal(["Phase", "Teacher-mAP", "Student-mAP", "Gain", "Student", "Age"], columns.Select(c => c.Name));
        Assert.Contains(columns, c => c is { Name: "Teacher-mAP", Type: "number", JsonPath: ".status.teacherMAP" });
        Assert.Contains(columns, c => c is { Name: "Student-mAP", Type: "number", JsonPath: ".status.metrics.mAP" });
        var gain = Assert.Single(columns, c => c.Name == "Gain");
        Assert.Equal(("number", ".status.gain"), (gain.Type, gain.JsonPath));
        Assert.Contains("student mAP minus the best teacher's mAP, in mAP points", gain.Description);
        Assert.Equal("string", At(Crd("distilljobs"), "status.teachers.[].modelSha256").Type);
    }

    [Fact]
    public void Ranges_enums_defaults_and_quantities_reach_the_schema()
    {
        var crd = Crd("reidexperiments");
        var nodes = At(crd, "spec.resources.nodes");
        Assert.Equal((1.0, 256.0, 1), (nodes.Minimum, nodes.Maximum, nodes.DefaultProperty));
        var cpu = At(crd, "spec.resources.cpu");
        Assert.True(cpu.XKubernetesIntOrString);
        Assert.Equal(CrdGenerator.QuantityPattern, cpu.Pattern);
        Assert.Equal(["Pending", "Running", "Succeeded", "Failed"], At(crd, "status.phase").EnumProperty);
        Assert.Equal(["dataset"], At(crd, "spec").Required);
        Assert.Null(At(crd, "status.phase").DefaultProperty);

        var sweep = Crd("tunesweeps");
        var fraction = At(sweep, "spec.validation.identityFraction");
        Assert.True(fraction.ExclusiveMinimum == true && fraction.ExclusiveMaximum == true);
        Assert.Equal("maximize", At(sweep, "spec.objective.goal").DefaultProperty);
        Assert.Contains("bohb", At(sweep, "spec.algorithm.name").EnumProperty.Cast<string>());
        Assert.Equal(64, At(sweep, "spec.searchSpace").MaxProperties);
        Assert.Contains(At(sweep, "spec").XKubernetesValidations, r => r.Rule == "self.maxFailedTrials <= self.maxTrials");
        Assert.Equal(3, At(sweep, "spec.searchSpace.*").XKubernetesValidations.Count); // bounds, choice values, fixed value
    }

    [Fact]
    public void Teachers_are_checked_by_cel_and_bounded()
    {
        var teachers = At(Crd("distilljobs"), "spec.teachers");
        Assert.Equal((1L, 8L), (teachers.MinItems, teachers.MaxItems));
        Assert.Contains(((V1JSONSchemaProps)teachers.Items).XKubernetesValidations, r => r.Rule == "has(self.experimentRef) != has(self.modelUri)");
    }

    [Fact]
    public void The_crds_command_writes_one_file_per_kind()
    {
        var dir = Directory.CreateTempSubdirectory("crds-").FullName;
        try
        {
            var stdout = new StringWriter();
            Assert.Equal(0, CrdCommand.Run(["--output", dir], stdout, new StringWriter()));
            Assert.Equal(
                ["fastreid.io_distilljobs.yaml", "fastreid.io_exportjobs.yaml", "fastreid.io_reidexperiments.yaml", "fastreid.io_tunesweeps.yaml"],
                Directory.GetFiles(dir).Select(Path.GetFileName).Order());
            Assert.StartsWith("# Generated", File.ReadAllText(Path.Combine(dir, "fastreid.io_reidexperiments.yaml")));
            Assert.Equal(2, CrdCommand.Run(["--bogus"], stdout, new StringWriter()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
