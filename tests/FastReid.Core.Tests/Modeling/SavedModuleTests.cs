using FastReid.Engine;
using FastReid.Export;
using FastReid.Modeling.MetaArch;
using FastReid.Solver;
using Google.Protobuf;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Modeling;

/// <summary>
/// A meta-architecture's extra frozen modules (a Distiller's teachers) are neither saved, hashed, exported
/// nor optimised: only <see cref="MetaArch.SavedModule"/> is the model's weights.
/// </summary>
public sealed class SavedModuleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("saved-module-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Test-only: a Baseline student plus a frozen teacher, both in this module's tree (so .to() and the
    /// module walk see the teacher: the strongest case), with the student as the saved module.
    /// </summary>
    private sealed class WithTeacher : MetaArch
    {
        private readonly Baseline student;
        private readonly nn.Module<Tensor, Tensor> teacher;

        public WithTeacher() : base(nameof(WithTeacher))
        {
            torch.manual_seed(3);
            student = new Baseline(ModelTests.TinyConfig("MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128"), numClasses: 4);
            teacher = nn.Linear(128, 4);
            foreach (var p in teacher.parameters()) p.requires_grad = false;
            RegisterComponents();
        }

        public Baseline Student => student;
        public nn.Module<Tensor, Tensor> Teacher => teacher;
        public override nn.Module SavedModule => student;
        public override Tensor forward(Tensor images) => student.forward(images);
        public override Dictionary<string, Tensor> Losses(Tensor images, Tensor targets) => student.Losses(images, targets);
        public override IReadOnlyList<(string Name, nn.Module Module)> TopLevel() => student.TopLevel();
        public override long EmbeddingDim => student.EmbeddingDim;
        public override int NumClasses => student.NumClasses;
    }

    [Fact]
    public void The_teacher_is_in_the_module_tree_but_not_in_the_saved_state_dict()
    {
        using var model = new WithTeacher();
        Assert.Contains(model.state_dict().Keys, k => k.StartsWith("teacher.", StringComparison.Ordinal));
        var path = Path.Combine(_dir, "model.pth");
        WeightLoading.Save(model, path);
        var saved = WeightLoading.ReadStateDict(path, "MODEL.WEIGHTS");
        Assert.Equal(model.Student.state_dict().Keys.Order(), saved.Keys.Order());
        Assert.DoesNotContain(saved.Keys, k => k.Contains("teacher", StringComparison.Ordinal));
    }

    [Fact]
    public void Weights_sha256_is_the_students_and_ignores_the_teacher()
    {
        using var model = new WithTeacher();
        var before = ArtefactFiles.WeightsSha256(model);
        Assert.Equal(ArtefactFiles.WeightsSha256(model.Student), before);
        using (torch.no_grad())
            foreach (var p in model.Teacher.parameters()) p.add_(1.0f);
        Assert.Equal(before, ArtefactFiles.WeightsSha256(model));
    }

    [Fact]
    public void The_onnx_export_is_the_students_graph()
    {
        using var model = new WithTeacher();
        model.eval();
        var exported = BaselineOnnxWriter.Write(model, 64, 32);
        Assert.Equal(BaselineOnnxWriter.Write(model.Student, 64, 32).ToByteArray(), exported.ToByteArray());
        Assert.DoesNotContain(exported.Graph.Initializer, t => t.Name.Contains("teacher", StringComparison.Ordinal));
    }

    [Fact]
    public void The_optimizer_holds_the_students_trainable_parameters_only()
    {
        using var model = new WithTeacher();
        var (optimizer, groups) = OptimizerBuilder.Build(ModelTests.TinyConfig(), model);
        using var _ = optimizer;
        Assert.Equal(model.Student.parameters().Count(p => p.requires_grad), groups.Sum(g => g.Parameters.Count));
    }
}
