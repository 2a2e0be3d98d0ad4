using FastReid.Config;
using FastReid.Core.Tests.Modeling;
using FastReid.Distill;
using FastReid.Engine;
using FastReid.Export;
using FastReid.Modeling.MetaArch;
using FastReid.Solver;
using Google.Protobuf;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Distill;

/// <summary>The Distiller and DistillerOverhaul meta-architectures built from teacher files on disk.</summary>
public sealed class DistillerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distiller-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Student = ["MODEL.BACKBONE.WIDTH_MULT", "0.25", "MODEL.BACKBONE.FEAT_DIM", "128", "MODEL.HEADS.CLS_LAYER", "CosSoftmax",
        "MODEL.HEADS.SCALE", "16", "MODEL.HEADS.MARGIN", "0.35"];

    /// <summary>A trained-looking teacher on disk: config.yaml and model_final.pth, half-width ResNet-18, random weights from <paramref name="seed"/>.</summary>
    private (string Config, string Weights, Baseline Model) Teacher(int seed, int classes = 4, params string[] more)
    {
        var dir = Path.Combine(_dir, $"teacher-{seed}-{classes}");
        Directory.CreateDirectory(dir);
        torch.manual_seed(seed);
        var cfg = ModelTests.TinyConfig(["MODEL.BACKBONE.WIDTH_MULT", "0.5", "MODEL.BACKBONE.FEAT_DIM", "256", "MODEL.HEADS.NUM_CLASSES", classes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "MODEL.HEADS.CLS_LAYER", "ArcSoftmax", "MODEL.HEADS.SCALE", "16", "MODEL.HEADS.MARGIN", "0.3", .. more]);
        var model = new Baseline(cfg, classes);
        using (no_grad()) // non-trivial running statistics, so eval mode differs from train mode
            foreach (var (name, b) in model.named_buffers())
                if (name.EndsWith("running_var", StringComparison.Ordinal)) b.fill_(2.0f);
        var config = Path.Combine(dir, "config.yaml");
        File.WriteAllText(config, cfg.ToYaml());
        var weights = Path.Combine(dir, "model_final.pth");
        WeightLoading.Save(model, weights);
        model.eval();
        return (config, weights, model);
    }

    private static FastReidConfig DistillConfig(string arch, IEnumerable<(string Config, string Weights, Baseline Model)> teachers, params string[] more)
    {
        var list = teachers.ToList();
        string L(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(i => $"'{i}'")) + "]";
        return ModelTests.TinyConfig([.. Student, "MODEL.META_ARCHITECTURE", arch, "KD.MODEL_CONFIG", L(list.Select(t => t.Config)),
            "KD.MODEL_WEIGHTS", L(list.Select(t => t.Weights)), .. more]);
    }

    private static (Tensor Images, Tensor Targets) Batch()
    {
        torch.manual_seed(11);
        return (torch.rand(8, 3, 64, 32) * 255, torch.tensor(new long[] { 0, 0, 1, 1, 2, 2, 3, 3 }));
    }

    [Fact]
    public void Teachers_are_frozen_in_eval_mode_and_not_saved_hashed_exported_or_optimised()
    {
        var t = Teacher(1);
        var lines = new List<string>();
        using var model = MetaArchRegistry.Build(DistillConfig("Distiller", [t]), 4, lines.Add);
        var distiller = Assert.IsType<Distiller>(model);
        Assert.Contains(lines, l => l.StartsWith("teacher 0: loaded", StringComparison.Ordinal));
        model.train();
        var teacher = Assert.Single(distiller.TeacherModels);
        Assert.False(teacher.training);
        Assert.All(teacher.parameters(), p => Assert.False(p.requires_grad));

        using var student = new Baseline(ModelTests.TinyConfig(Student), 4);
        Assert.Equal(student.state_dict().Keys.Order(), model.state_dict().Keys.Order()); // a Baseline's names, nothing of the teacher
        var before = ArtefactFiles.WeightsSha256(model);
        using (no_grad()) foreach (var p in teacher.parameters()) p.add_(1.0f);
        Assert.Equal(before, ArtefactFiles.WeightsSha256(model));
        var (optimizer, groups) = OptimizerBuilder.Build(ModelTests.TinyConfig(), model);
        using var _ = optimizer;
        Assert.Equal(student.parameters().Count(p => p.requires_grad), groups.Sum(g => g.Parameters.Count));
        model.eval();
        Assert.DoesNotContain(BaselineOnnxWriter.Write(model, 64, 32).Graph.Initializer, i => i.Dims.Contains(256)); // no teacher-width tensor
    }

    [Fact]
    public void Kd_term_is_the_symmetric_kl_of_margin_free_logits_averaged_over_teachers()
    {
        var t1 = Teacher(1);
        var t2 = Teacher(2);
        using var model = (Distiller)MetaArchRegistry.Build(DistillConfig("Distiller", [t1, t2], "KD.TEMPERATURE", "1", "KD.LOSS_WEIGHT", "0.5"), 4);
        var (images, targets) = Batch();
        model.eval(); // running statistics, so the expected logits below are the ones the loss saw
        var terms = model.Losses(images, targets);
        Assert.Equal(["loss_cls", "loss_kd", "loss_triplet"], terms.Keys.Order());

        using var _ = no_grad();
        var student = model.TeacherOutputs(images, targets);
        double expected = 0, withMargins = 0;
        foreach (var t in new[] { t1.Model, t2.Model })
        {
            var o = t.TeacherOutputs(images, targets);
            expected += DistillLosses.SymmetricKl(student.Logits, o.Logits, 1).item<float>();
            withMargins += DistillLosses.SymmetricKl(student.ClsOutputs, o.ClsOutputs, 1).item<float>();
        }
        double kd = terms["loss_kd"].item<float>();
        Assert.Equal(expected / 2 * 0.5, kd, 5);
        Assert.True(Math.Abs(withMargins / 2 * 0.5 - kd) > 1e-3, $"the margin logits give {withMargins / 4} too, so this test cannot tell them apart from {kd}");
    }

    [Fact]
    public void A_teacher_file_whose_digest_changed_is_refused_by_name()
    {
        var t = Teacher(1);
        var wrong = new string('0', 64);
        var e = Assert.Throws<InputRefusedException>(() => MetaArchRegistry.Build(DistillConfig("Distiller", [t], "KD.MODEL_WEIGHTS_SHA256", $"['{wrong}']"), 4).Dispose());
        Assert.Contains("KD.MODEL_WEIGHTS[0]", e.Message);
        Assert.Contains(ArtefactFiles.Sha256File(t.Weights), e.Message);
        Assert.Contains("KD.MODEL_WEIGHTS_SHA256[0] expects " + wrong, e.Message);

        // the right digests (and "" for not checked) pass
        using var ok = MetaArchRegistry.Build(DistillConfig("Distiller", [t], "KD.MODEL_WEIGHTS_SHA256", $"['{ArtefactFiles.Sha256File(t.Weights)}']",
            "KD.MODEL_CONFIG_SHA256", "['']"), 4);
        var bad = Assert.Throws<FastReidException>(() => MetaArchRegistry.Build(DistillConfig("Distiller", [t], "KD.MODEL_CONFIG_SHA256", "['abc']"), 4).Dispose());
        Assert.Contains("KD.MODEL_CONFIG_SHA256[0] 'abc' is not a sha256 digest", bad.Message);
    }

    [Fact]
    public void A_teacher_of_other_identities_is_refused_for_logit_kd_but_serves_feature_only_kd()
    {
        var t = Teacher(1, classes: 6);
        var e = Assert.Throws<FastReidException>(() => MetaArchRegistry.Build(DistillConfig("Distiller", [t]), 4).Dispose());
        Assert.Contains("classifies 6 identities but the student's training set has 4", e.Message);
        Assert.Contains("KD.LOSS_WEIGHT 0", e.Message);

        using var featureOnly = MetaArchRegistry.Build(DistillConfig("DistillerOverhaul", [t], "KD.LOSS_WEIGHT", "0"), 4);
        var (images, targets) = Batch();
        featureOnly.train();
        Assert.Equal(["loss_cls", "loss_overhaul", "loss_triplet"], featureOnly.Losses(images, targets).Keys.Order());
        Assert.Throws<FastReidException>(() => MetaArchRegistry.Build(DistillConfig("Distiller", [t], "KD.LOSS_WEIGHT", "0"), 6).Dispose());
    }

    [Fact]
    public void Weights_that_do_not_fill_the_teacher_config_are_refused()
    {
        var t = Teacher(1);
        var (otherConfig, otherWeights, _) = Teacher(3, 4, "MODEL.BACKBONE.DEPTH", "34x");
        var e = Assert.Throws<WeightsMismatchException>(() => MetaArchRegistry.Build(DistillConfig("Distiller", [(otherConfig, t.Weights, t.Model)]), 4).Dispose());
        Assert.Contains("does not fill the model its config describes", e.Message);
        Assert.Contains("missing: backbone.layer1.2", e.Message); // ResNet-34 has a third block the ResNet-18 weights lack
        // the other way round, the ResNet-34's extra blocks would be dropped: a teacher other than the trained one
        e = Assert.Throws<WeightsMismatchException>(() => MetaArchRegistry.Build(DistillConfig("Distiller", [(t.Config, otherWeights, t.Model)]), 4).Dispose());
        Assert.True(e.Message.Contains("not in the model: backbone.layer1.2", StringComparison.Ordinal), e.Message);
    }

    [Fact]
    public void Overhaul_weights_stages_by_depth_and_divides_by_teachers_batch_and_ten_thousand()
    {
        var t = Teacher(1);
        using var model = (DistillerOverhaul)MetaArchRegistry.Build(DistillConfig("DistillerOverhaul", [t], "KD.OVERHAUL.LOSS_WEIGHT", "2"), 4);
        Assert.Contains(model.state_dict().Keys, k => k == "connectors_0.3.0.weight");  // FastReID's names
        Assert.Contains(model.state_dict().Keys, k => k == "connectors_0.0.1.running_var");
        Assert.Contains(model.TopLevel(), m => m.Name == "connectors_0");
        var (images, targets) = Batch();
        model.eval();
        var terms = model.Losses(images, targets);

        using var _ = no_grad();
        var (sStages, _) = model.StudentStages(images);
        var (tStages, _) = ((FastReid.Modeling.Backbones.ResNet)t.Model.Backbone).ForwardStages(t.Model.Preprocess(images));
        var margins = ((FastReid.Modeling.Backbones.ResNet)t.Model.Backbone).NormsBeforeRelu.Select(DistillLosses.OverhaulMargins).ToArray();
        double expected = 0;
        for (int j = 0; j < 4; j++)
            expected += DistillLosses.PartialL2(model.Connect(0, j, sStages[j]), tStages[j], margins[j]).item<float>() / Math.Pow(2, 3 - j);
        expected = expected / 1 / 8 / 10000 * 2;
        Assert.Equal(expected, terms["loss_overhaul"].item<float>(), 3);
        Assert.True(expected > 0);
    }

    [Fact]
    public void Pre_relu_stages_end_in_the_backbone_output()
    {
        torch.manual_seed(4);
        using var resnet = new FastReid.Modeling.Backbones.ResNet(18, 1, "BN", false, false, 0.25);
        resnet.eval();
        using var x = torch.randn(2, 3, 64, 32);
        using var _ = no_grad();
        var (pre, output) = resnet.ForwardStages(x);
        Assert.Equal(4, pre.Length);
        Assert.True(output.allclose(resnet.forward(x)));
        Assert.True(nn.functional.relu(pre[3]).allclose(output));
        Assert.True(pre[0].lt(0).any().item<bool>()); // pre-ReLU: negative values survive
        Assert.Equal(new long[] { 16, 32, 64, 128 }, resnet.StageChannels);
        using var nl = new FastReid.Modeling.Backbones.ResNet(50, 1, "BN", false, true, 0.25);
        Assert.Throws<FastReidException>(() => nl.ForwardStages(x));
    }

    [Fact]
    public void The_ema_teacher_starts_as_the_student_and_follows_it_with_the_momentum()
    {
        using var model = (Distiller)MetaArchRegistry.Build(ModelTests.TinyConfig([.. Student, "MODEL.META_ARCHITECTURE", "Distiller", "KD.EMA.ENABLED", "True", "KD.EMA.MOMENTUM", "0.9"]), 4);
        var ema = Assert.Single(model.TeacherModels);
        var (images, targets) = Batch();
        model.train();
        model.Losses(images, targets); // first step: the EMA teacher becomes a copy of the student
        var name = "heads.weight";
        var studentW = model.state_dict()[name];
        Assert.True(ema.state_dict()[name].allclose(studentW, rtol: 0, atol: 0));
        using var before = ema.state_dict()[name].clone();
        using (no_grad()) studentW.add_(1.0f);
        model.Losses(images, targets);
        Assert.True(ema.state_dict()[name].allclose(before * 0.9 + studentW * 0.1, atol: 1e-6));
    }

    [Fact]
    public void A_distilled_students_weights_load_into_a_baseline_for_inference()
    {
        var t = Teacher(1);
        var cfg = DistillConfig("DistillerOverhaul", [t]);
        using var model = MetaArchRegistry.Build(cfg, 4);
        var path = Path.Combine(_dir, "student.pth");
        WeightLoading.Save(model, path);
        var inferCfg = cfg.Clone();
        inferCfg.SetValue("MODEL.WEIGHTS", path);
        inferCfg.SetValue("MODEL.HEADS.NUM_CLASSES", 4L);
        var lines = new List<string>();
        using var inference = InferenceModel.Load(inferCfg, CPU, lines.Add);
        Assert.IsType<Baseline>(inference);
        // loaded strictly (the default for inference): the connectors (4 stages: conv weight, BN weight, bias, mean, var) are left out
        Assert.Contains("left out 20 distillation connector tensors (connectors_*", Assert.Single(lines));
        var (images, _) = Batch();
        model.eval();
        using var _ = no_grad();
        Assert.True(inference.forward(images).allclose(model.forward(images)));
    }

    [Fact]
    public void A_distiller_without_teachers_says_what_to_set()
    {
        var e = Assert.Throws<FastReidException>(() => MetaArchRegistry.Build(ModelTests.TinyConfig([.. Student, "MODEL.META_ARCHITECTURE", "Distiller"]), 4).Dispose());
        Assert.Contains("KD.MODEL_CONFIG and KD.MODEL_WEIGHTS", e.Message);
        var t = Teacher(1);
        var mismatch = Assert.Throws<FastReidException>(() => MetaArchRegistry.Build(ModelTests.TinyConfig([.. Student, "MODEL.META_ARCHITECTURE", "Distiller",
            "KD.MODEL_CONFIG", $"['{t.Config}']", "KD.MODEL_WEIGHTS", "[]"]), 4).Dispose());
        Assert.Contains("KD.MODEL_CONFIG has 1 entries but KD.MODEL_WEIGHTS has 0", mismatch.Message);
    }

    [Fact]
    public void Minimising_the_kd_and_overhaul_terms_pulls_the_student_towards_its_teacher()
    {
        var t = Teacher(1);
        using var model = (DistillerOverhaul)MetaArchRegistry.Build(DistillConfig("DistillerOverhaul", [t], "KD.TEMPERATURE", "4"), 4);
        var (images, targets) = Batch();
        model.train();
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        using var optimizer = torch.optim.Adam(parameters, lr: 3e-3);
        double firstKd = 0, firstOverhaul = 0, lastKd = 0, lastOverhaul = 0;
        for (int step = 0; step < 40; step++)
        {
            using var scope = NewDisposeScope();
            var terms = model.Losses(images, targets);
            var loss = terms["loss_kd"] + terms["loss_overhaul"];
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            (lastKd, lastOverhaul) = (terms["loss_kd"].item<float>(), terms["loss_overhaul"].item<float>());
            if (step == 0) (firstKd, firstOverhaul) = (lastKd, lastOverhaul);
        }
        Assert.True(lastKd < firstKd * 0.5, $"loss_kd {firstKd} -> {lastKd}");
        Assert.True(lastOverhaul < firstOverhaul * 0.5, $"loss_overhaul {firstOverhaul} -> {lastOverhaul}");
        Assert.All(model.TeacherModels[0].parameters(), p => Assert.Null(p.grad)); // the teacher never learns
    }
}
