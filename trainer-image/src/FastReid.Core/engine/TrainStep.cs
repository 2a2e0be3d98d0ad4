using FastReid.Config;
using FastReid.Data;
using FastReid.Modeling.MetaArch;
using System.Diagnostics;
using FastReid.Solver;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// One optimisation step, shared by the trainer and the benchmark: forward with losses (the model's and
/// those hooks add), backward, gradient synchronisation (the one place data-parallel training hooks
/// in), layer freezing, clipping, optimizer step.
/// </summary>
public sealed class TrainStep(FastReidConfig cfg, MetaArch model, TorchSharp.Modules.OptimizerHelper optimizer, IReadOnlyList<ParameterGroup> groups,
    LrSchedule schedule, RunContext run)
{
    private readonly string[] _freezeLayers = ValidateFreeze(cfg, model);
    private readonly int _freezeIters = cfg.Int("SOLVER.FREEZE_ITERS");
    private readonly bool _clip = cfg.Bool("SOLVER.CLIP_GRADIENTS.ENABLED");
    private readonly bool _clipByNorm = cfg.String("SOLVER.CLIP_GRADIENTS.CLIP_TYPE") == "norm";
    private readonly double _clipValue = cfg.Float("SOLVER.CLIP_GRADIENTS.CLIP_VALUE");
    private readonly double _normType = cfg.Float("SOLVER.CLIP_GRADIENTS.NORM_TYPE");
    private readonly List<TorchSharp.Modules.Parameter> _parameters = model.parameters().Where(p => p.requires_grad).ToList();
    private Distributed.GradientBuckets? _buckets;

    public double LearningRate { get; private set; }

    /// <summary>Where the steps' time went so far (the benchmark's profile); libtorch's CPU ops are synchronous, so wall time is the op's.</summary>
    public StepPhases Phases { get; } = new();

    /// <summary>Sets every group's rate for the step at (<paramref name="iteration"/>, <paramref name="epoch"/>): FastReID's LRScheduler hook calls it before each step.</summary>
    public void SetLearningRate(long iteration, int epoch)
    {
        double factor = schedule.Factor(iteration, epoch);
        int gi = 0;
        foreach (var pg in optimizer.ParamGroups) pg.LearningRate = groups[gi++].BaseLr * factor;
        LearningRate = groups[0].BaseLr * factor;
    }

    /// <summary>One step at the learning rate set last; <paramref name="contributors"/> add loss terms before backward.</summary>
    public Dictionary<string, double> Run(Batch batch, long iteration, int epoch, IReadOnlyList<Hooks.ILossContributor>? contributors = null)
    {
        bool frozen = _freezeLayers.Length > 0 && iteration < _freezeIters;
        foreach (var (name, module) in model.TopLevel())
            module.train(!(frozen && _freezeLayers.Contains(name)));

        using var scope = NewDisposeScope();
        var images = torch.tensor(batch.Images, [batch.Count, 3, batch.Height, batch.Width]).to(run.Device);
        // channels-last (NHWC strides, NCHW shape; TorchSharp 0.107 has no memory_format): libtorch's convolutions
        // and batch norms keep the input's layout, and oneDNN runs NHWC without reordering to and from its blocked
        // layout at every layer, forward and backward (~5 % faster steps of the CPU recipe, measured side by side)
        images = images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        var targets = torch.tensor(batch.Labels).to(run.Device);
        long started = Stopwatch.GetTimestamp();
        var terms = model.Losses(images, targets);
        foreach (var contributor in contributors ?? [])
            foreach (var (name, term) in contributor.ExtraLosses(images, targets))
                if (!terms.TryAdd(name, term))
                    throw new InvalidOperationException($"{contributor.GetType().Name} adds a loss term '{name}' the step already has");
        var total = terms.Values.Aggregate((a, b) => a + b);
        long forwardDone = Stopwatch.GetTimestamp();
        optimizer.zero_grad();
        total.backward();
        long backwardDone = Stopwatch.GetTimestamp();
        // data-parallel: gradients averaged over the ranks; the logged losses become the global batch's
        var names = terms.Keys.ToList();
        var values = run.Collectives.WorldSize == 1 ? null
            : (_buckets ??= new Distributed.GradientBuckets(_parameters, run.Collectives)).AllReduceMean(names.Select(n => (double)terms[n].item<float>()).ToList());
        if (frozen)
            foreach (var g in groups.Where(g => g.Freezable))
                foreach (var p in g.Parameters) p.grad = null; // as FastReID: frozen parameters skip the step entirely
        if (_clip)
        {
            if (_clipByNorm) nn.utils.clip_grad_norm_(_parameters, _clipValue, _normType);
            else nn.utils.clip_grad_value_(_parameters, _clipValue);
        }
        optimizer.step();
        var losses = values is null
            ? terms.ToDictionary(kv => kv.Key, kv => (double)kv.Value.item<float>())
            : names.Select((n, i) => (n, v: values[i])).ToDictionary(t => t.n, t => t.v);
        Phases.Add(started, forwardDone, backwardDone, Stopwatch.GetTimestamp());
        if (!double.IsFinite(losses.Values.Sum()))
            throw new FastReidException($"the loss became {losses.Values.Sum()} at epoch {epoch + 1}, iteration {iteration + 1}: lower SOLVER.BASE_LR or enable SOLVER.CLIP_GRADIENTS");
        return losses;
    }

    private static string[] ValidateFreeze(FastReidConfig cfg, MetaArch model)
    {
        var layers = cfg.Strings("MODEL.FREEZE_LAYERS");
        foreach (var name in layers)
            if (!model.TopLevel().Any(t => t.Name == name))
                throw new FastReidException($"MODEL.FREEZE_LAYERS: the model has no top-level module '{name}' ({string.Join(", ", model.TopLevel().Select(t => t.Name))})");
        return layers;
    }
}

/// <summary>
/// Seconds spent in each phase of <see cref="TrainStep.Run"/>, summed over its steps: forward with the losses,
/// backward (with the gradient all-reduce of data-parallel runs), and the optimizer step with reading the losses back.
/// </summary>
public sealed class StepPhases
{
    public int Steps { get; private set; }
    public double ForwardSeconds { get; private set; }
    public double BackwardSeconds { get; private set; }
    public double OptimizerSeconds { get; private set; }

    internal void Add(long started, long forwardDone, long backwardDone, long optimizerDone)
    {
        Steps++;
        ForwardSeconds += Stopwatch.GetElapsedTime(started, forwardDone).TotalSeconds;
        BackwardSeconds += Stopwatch.GetElapsedTime(forwardDone, backwardDone).TotalSeconds;
        OptimizerSeconds += Stopwatch.GetElapsedTime(backwardDone, optimizerDone).TotalSeconds;
    }

    public void Reset() => (Steps, ForwardSeconds, BackwardSeconds, OptimizerSeconds) = (0, 0, 0, 0);
}
