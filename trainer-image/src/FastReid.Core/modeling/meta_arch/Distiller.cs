using FastReid.Config;
using FastReid.Distill;
using FastReid.Modeling.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Modeling.MetaArch;

/// <summary>
/// FastReID's <c>Distiller</c> (FastDistill): a Baseline student trained with its usual losses plus
/// <c>loss_kd</c>, the symmetric KL divergence <c>(KL(s‖t) + KL(t‖s)) / 2</c> at temperature <c>KD.TEMPERATURE</c>
/// (× T²) between the student's and each teacher's margin-free logits (the classifier's scaled cosines before
/// any ArcFace/CosFace/Circle margin), averaged over the teachers and weighted by <c>KD.LOSS_WEIGHT</c>.
/// Teachers (<see cref="Teachers"/>; with <c>KD.EMA.ENABLED</c> an EMA of the student first) are frozen, in eval
/// mode, and held outside the module tree: never saved, hashed, exported or optimised, moved to the
/// student's device on first use. The student's weights keep a Baseline's names, and it embeds like one.
/// </summary>
public class Distiller : Baseline
{
    private readonly TeacherSet _teachers;

    public double Temperature { get; }
    public double KdWeight { get; }

    public Distiller(FastReidConfig cfg, int numClasses, Action<string> log) : this(cfg, numClasses, log, nameof(Distiller), featureDistillation: false) { }

    protected Distiller(FastReidConfig cfg, int numClasses, Action<string> log, string name, bool featureDistillation) : base(cfg, numClasses, name)
    {
        Temperature = cfg.Float("KD.TEMPERATURE");
        if (!(Temperature > 0) || !double.IsFinite(Temperature)) throw new FastReidException($"KD.TEMPERATURE must be positive (got {Temperature})");
        KdWeight = cfg.Float("KD.LOSS_WEIGHT");
        if (!(KdWeight >= 0) || !double.IsFinite(KdWeight)) throw new FastReidException($"KD.LOSS_WEIGHT must be 0 or more (got {KdWeight})");
        if (KdWeight == 0 && !featureDistillation)
            throw new FastReidException("KD.LOSS_WEIGHT is 0, so the Distiller would distil nothing: use DistillerOverhaul for feature-only distillation, or Baseline");
        double momentum = cfg.Float("KD.EMA.MOMENTUM");
        bool ema = cfg.Bool("KD.EMA.ENABLED");
        if (ema && momentum is not (>= 0 and < 1)) throw new FastReidException($"KD.EMA.MOMENTUM must be in [0, 1) (got {momentum})");
        var external = Teachers.Load(cfg, numClasses, logitKd: KdWeight > 0, log);
        Baseline? emaTeacher = null;
        if (ema)
        {
            emaTeacher = new Baseline(Teachers.AsTeacherConfig(cfg), numClasses);
            Teachers.Freeze(emaTeacher);
            log($"self-distillation: an EMA of the student (momentum {momentum}) is teacher 0");
        }
        if (external.Count == 0 && emaTeacher is null)
        {
            Dispose();
            throw new FastReidException($"{name} needs a teacher: KD.MODEL_CONFIG and KD.MODEL_WEIGHTS (one entry per teacher), or KD.EMA.ENABLED True");
        }
        _teachers = new TeacherSet(emaTeacher, momentum, external);
    }

    /// <summary>The teachers in FastReID's order (the EMA teacher first), frozen and in eval mode.</summary>
    public IReadOnlyList<Baseline> TeacherModels => _teachers.All;

    public override Dictionary<string, Tensor> Losses(Tensor images, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var x = Preprocess(images);
        var (stages, features) = WantsStages ? ((Backbones.ResNet)Backbone).ForwardStages(x) : (null, Backbone.forward(x));
        var outputs = Heads.ForwardTrain(features, targets);
        var terms = BaselineLosses(outputs, targets);

        var teachers = _teachers.Ready(this, images.device);
        var teacherOutputs = new List<(HeadOutputs Outputs, Tensor[]? Stages)>();
        using (no_grad())
        {
            foreach (var t in teachers)
            {
                if (!WantsStages) { teacherOutputs.Add((t.TeacherOutputs(images, targets), null)); continue; }
                var (tStages, tFeat) = ((Backbones.ResNet)t.Backbone).ForwardStages(t.Preprocess(images));
                teacherOutputs.Add((t.Heads.ForwardTrain(tFeat, targets), tStages));
            }
        }
        if (KdWeight > 0)
        {
            Tensor? kd = null;
            foreach (var (t, _) in teacherOutputs)
            {
                var term = DistillLosses.SymmetricKl(outputs.Logits, t.Logits, Temperature);
                kd = kd is null ? term : kd + term;
            }
            terms["loss_kd"] = kd! / teacherOutputs.Count * KdWeight;
        }
        if (WantsStages) AddFeatureLoss(terms, stages!, teacherOutputs.Select(t => t.Stages!).ToList());
        foreach (var t in terms.Values) t.MoveToOuterDisposeScope();
        return terms;
    }

    /// <summary>Whether the training forward needs each stage's pre-ReLU output (overhaul distillation).</summary>
    protected virtual bool WantsStages => false;

    /// <summary>Adds feature-distillation terms from the student's and each teacher's pre-ReLU stage outputs.</summary>
    protected virtual void AddFeatureLoss(Dictionary<string, Tensor> terms, Tensor[] student, IReadOnlyList<Tensor[]> teachers) { }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _teachers?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>
    /// The teachers, outside the module tree (this class is not a module, so nothing in it is registered). The EMA
    /// teacher starts as a copy of the student at the first training step (after initial weights, the ranks'
    /// broadcast and any resume) and follows it by <c>ema = m·ema + (1−m)·student</c> before each step's teacher
    /// forward, parameters and batch-norm statistics alike (the teacher runs in eval mode, so it needs the latter).
    /// </summary>
    private sealed class TeacherSet(Baseline? ema, double momentum, List<Baseline> external) : IDisposable
    {
        private List<(Tensor Ema, Tensor Student)>? _emaPairs;
        private string? _device;

        public IReadOnlyList<Baseline> All { get; } = ema is null ? external : [ema, .. external];

        public IReadOnlyList<Baseline> Ready(Distiller student, Device device)
        {
            var where = device.ToString();
            if (_device != where)
            {
                foreach (var t in All) t.to(device);
                _device = where;
                _emaPairs = null; // moving replaces the tensors
            }
            if (ema is null) return All;
            using var _ = no_grad();
            if (_emaPairs is null)
            {
                var studentState = student.state_dict();
                _emaPairs = ema.state_dict().Select(kv => (kv.Value, studentState[kv.Key])).ToList();
                foreach (var (e, s) in _emaPairs) e.copy_(s);
            }
            else
            {
                foreach (var (e, s) in _emaPairs)
                    if (e.is_floating_point()) e.mul_(momentum).add_(s, alpha: 1 - momentum);
                    else e.copy_(s);
            }
            return All;
        }

        public void Dispose()
        {
            foreach (var t in All) t.Dispose();
        }
    }
}
