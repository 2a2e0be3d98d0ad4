using FastReid.Config;
using FastReid.Distill;
using FastReid.Modeling.Backbones;
using FastReid.Modeling.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Modeling.MetaArch;

/// <summary>
/// FastReID's <c>DistillerOverhaul</c>: the <see cref="Distiller"/>'s losses plus <c>loss_overhaul</c>, Heo et al.'s
/// overhaul of feature distillation (ICCV 2019). For each teacher i and ResNet stage j, the student's pre-ReLU
/// stage output goes through a connector (1×1 conv + BN, <c>connectors_i.j</c>, trained with the student and kept
/// in its checkpoints as FastReID does) and is compared with the teacher's pre-ReLU output by the partial L2
/// against the teacher's margins (<see cref="DistillLosses"/>); stage j weighs <c>1 / 2^(n−j−1)</c>, and the sum is
/// divided by the number of teachers, the batch size and 10000, then weighted by <c>KD.OVERHAUL.LOSS_WEIGHT</c>.
/// <c>KD.LOSS_WEIGHT 0</c> makes it feature-only (teachers may then classify other identities).
/// </summary>
public sealed class DistillerOverhaul : Distiller
{
    /// <summary>Names of the connectors' modules in the state dict: <c>connectors_i</c> for teacher i (FastReID's).</summary>
    public const string ConnectorPrefix = "connectors_";

    private readonly ModuleList<Sequential>[] _connectors;
    private readonly Tensor[][] _margins; // an array, not a Tensor field: never registered, so never saved
    private readonly double _weight;

    public DistillerOverhaul(FastReidConfig cfg, int numClasses, Action<string> log)
        : base(cfg, numClasses, log, nameof(DistillerOverhaul), featureDistillation: true)
    {
        _weight = cfg.Float("KD.OVERHAUL.LOSS_WEIGHT");
        if (!(_weight > 0) || !double.IsFinite(_weight))
            throw new FastReidException($"KD.OVERHAUL.LOSS_WEIGHT must be positive (got {_weight}); use Distiller for logit distillation alone");
        var student = Backbone as ResNet ?? throw new FastReidException("DistillerOverhaul needs a ResNet student (MODEL.BACKBONE.NAME build_resnet_backbone)");
        var sChannels = student.StageChannels;
        _connectors = new ModuleList<Sequential>[TeacherModels.Count];
        _margins = new Tensor[TeacherModels.Count][];
        for (int i = 0; i < TeacherModels.Count; i++)
        {
            var teacher = TeacherModels[i].Backbone as ResNet ?? throw new FastReidException($"DistillerOverhaul needs ResNet teachers (teacher {i} is not)");
            var tChannels = teacher.StageChannels;
            _connectors[i] = nn.ModuleList(sChannels.Zip(tChannels, Connector).ToArray());
            _margins[i] = [.. teacher.NormsBeforeRelu.Select(DistillLosses.OverhaulMargins)];
            register_module($"{ConnectorPrefix}{i}", _connectors[i]);
        }
    }

    /// <summary>FastReID's <c>build_feature_connector</c>: 1×1 conv (He init over fan-out) and BN (γ 1, β 0), student → teacher channels.</summary>
    private static Sequential Connector(long studentChannels, long teacherChannels)
    {
        var conv = nn.Conv2d(studentChannels, teacherChannels, 1, bias: false);
        using (no_grad()) nn.init.normal_(conv.weight, 0, Math.Sqrt(2.0 / teacherChannels));
        var bn = new PlainBatchNorm(teacherChannels);
        nn.init.ones_(bn.weight!);
        nn.init.zeros_(bn.bias!);
        return nn.Sequential(("0", conv), ("1", bn));
    }

    public override IReadOnlyList<(string Name, nn.Module Module)> TopLevel() =>
        [.. base.TopLevel(), .. _connectors.Select((c, i) => ($"{ConnectorPrefix}{i}", (nn.Module)c))];

    protected override bool WantsStages => true;

    /// <summary>The student's pre-ReLU stage outputs and backbone output (for tests and tools).</summary>
    internal (Tensor[] PreRelu, Tensor Output) StudentStages(Tensor images) => ((ResNet)Backbone).ForwardStages(Preprocess(images));

    /// <summary>Stage <paramref name="stage"/> of the student through teacher <paramref name="teacher"/>'s connector.</summary>
    internal Tensor Connect(int teacher, int stage, Tensor feature) => _connectors[teacher][stage].forward(feature);

    protected override void AddFeatureLoss(Dictionary<string, Tensor> terms, Tensor[] student, IReadOnlyList<Tensor[]> teachers)
    {
        int n = student.Length;
        Tensor? total = null;
        for (int i = 0; i < teachers.Count; i++)
        {
            for (int j = 0; j < n; j++)
            {
                var source = Connect(i, j, student[j]);
                var target = teachers[i][j];
                if (!source.shape.SequenceEqual(target.shape))
                    throw new FastReidException($"overhaul stage {j + 1}: the student's feature map is [{string.Join(", ", source.shape)}] after its connector but teacher {i}'s is " +
                        $"[{string.Join(", ", target.shape)}]: student and teacher need the same input size and MODEL.BACKBONE.LAST_STRIDE");
                var term = DistillLosses.PartialL2(source, target, _margins[i][j]) / Math.Pow(2, n - j - 1);
                total = total is null ? term : total + term;
            }
        }
        terms["loss_overhaul"] = total! / teachers.Count / student[0].shape[0] / 10000.0 * _weight;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var m in _margins?.SelectMany(t => t) ?? []) m.Dispose();
        base.Dispose(disposing);
    }
}
