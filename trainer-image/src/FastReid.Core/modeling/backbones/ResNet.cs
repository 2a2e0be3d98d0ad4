using FastReid.Config;
using FastReid.Modeling.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Modeling.Backbones;

/// <summary>
/// FastReID's ResNet backbone (<c>build_resnet_backbone</c>): depths 18/34/50/101, configurable last
/// stride, optional IBN-a (stages 1–3) and non-local blocks. The stem's max-pool is FastReID's (3×3, stride 2,
/// no padding, ceil mode: 64×32 after it at 256×128) or, with <see cref="Stems.Torchvision"/>, torchvision's
/// (padding 1, floor mode: the same size at even inputs, other windows), which FastReID v0.1.x models were trained with. Module and parameter names follow
/// torchvision/FastReID (<c>conv1</c>, <c>bn1</c>, <c>layer1.0.conv1</c>, <c>NL_2.0.g</c>) so PyTorch
/// state dicts load.
/// </summary>
public sealed class ResNet : Backbone
{
    private readonly Conv2d conv1;
    private readonly BatchNorm bn1;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly ModuleList<NonLocal>? NL_1, NL_2, NL_3, NL_4;
    private readonly int[][] _nlIndices;

    public override long OutChannels { get; }

    /// <summary>The values of <c>MODEL.BACKBONE.STEM</c>.</summary>
    public static class Stems
    {
        public const string FastReid = "fastreid";
        public const string Torchvision = "torchvision";
    }

    public ResNet(int depth, int lastStride, string norm, bool withIbn, bool withNl, double widthMult = 1.0, string stem = Stems.FastReid) : base(nameof(ResNet))
    {
        if (widthMult is < 0.125 or > 4 || !double.IsFinite(widthMult))
            throw new FastReidException($"MODEL.BACKBONE.WIDTH_MULT must be between 0.125 and 4 (got {widthMult})");
        long W(long channels) => Math.Max(8, (long)Math.Round(channels * widthMult));
        var (layers, nonLayers, bottleneck) = depth switch
        {
            18 => (new[] { 2, 2, 2, 2 }, new[] { 0, 0, 0, 0 }, false),
            34 => (new[] { 3, 4, 6, 3 }, new[] { 0, 0, 0, 0 }, false),
            50 => (new[] { 3, 4, 6, 3 }, new[] { 0, 2, 3, 0 }, true),
            101 => (new[] { 3, 4, 23, 3 }, new[] { 0, 2, 9, 0 }, true),
            _ => throw new FastReidException($"MODEL.BACKBONE.DEPTH: ResNet-{depth} is not available (18x, 34x, 50x, 101x)"),
        };
        if (lastStride is not (1 or 2)) throw new FastReidException($"MODEL.BACKBONE.LAST_STRIDE must be 1 or 2 (got {lastStride})");
        int expansion = bottleneck ? 4 : 1;
        long inplanes = W(64);
        conv1 = nn.Conv2d(3, inplanes, 7, stride: 2, padding: 3, bias: false);
        bn1 = Norms.Create(norm, inplanes);
        maxpool = stem switch
        {
            Stems.FastReid => nn.MaxPool2d(3, stride: 2, padding: 0, ceil_mode: true),
            Stems.Torchvision => nn.MaxPool2d(3, stride: 2, padding: 1, ceil_mode: false),
            _ => throw new FastReidException($"MODEL.BACKBONE.STEM must be {Stems.FastReid} or {Stems.Torchvision} (got '{stem}')"),
        };
        layer1 = MakeLayer(ref inplanes, W(64), layers[0], 1, norm, withIbn, bottleneck);
        layer2 = MakeLayer(ref inplanes, W(128), layers[1], 2, norm, withIbn, bottleneck);
        layer3 = MakeLayer(ref inplanes, W(256), layers[2], 2, norm, withIbn, bottleneck);
        layer4 = MakeLayer(ref inplanes, W(512), layers[3], lastStride, norm, false, bottleneck);
        OutChannels = W(512) * expansion;
        _nlIndices = new int[4][];
        if (withNl)
        {
            // FastReID puts the non-local blocks after the last blocks of each stage.
            for (int s = 0; s < 4; s++) _nlIndices[s] = Enumerable.Range(0, nonLayers[s]).Select(i => layers[s] - (i + 1)).Order().ToArray();
            ModuleList<NonLocal>? Nl(int s, long ch) => nonLayers[s] == 0 ? null
                : nn.ModuleList(Enumerable.Range(0, nonLayers[s]).Select(_ => new NonLocal(ch, norm)).ToArray());
            NL_1 = Nl(0, W(64) * expansion);
            NL_2 = Nl(1, W(128) * expansion);
            NL_3 = Nl(2, W(256) * expansion);
            NL_4 = Nl(3, W(512) * expansion);
        }
        else
        {
            for (int s = 0; s < 4; s++) _nlIndices[s] = [];
        }
        RegisterComponents();
        // FastReID's random_init runs before its non-local blocks exist: they keep PyTorch's default conv init
        foreach (var (name, m) in named_modules())
            if (m is Conv2d conv && !name.StartsWith("NL_", StringComparison.Ordinal))
                nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
    }

    public static ResNet FromConfig(FastReidConfig cfg)
    {
        var depthText = cfg.String("MODEL.BACKBONE.DEPTH");
        var depth = int.Parse(depthText.TrimEnd('x'), System.Globalization.CultureInfo.InvariantCulture);
        return new ResNet(depth, cfg.Int("MODEL.BACKBONE.LAST_STRIDE"), cfg.String("MODEL.BACKBONE.NORM"),
            cfg.Bool("MODEL.BACKBONE.WITH_IBN"), cfg.Bool("MODEL.BACKBONE.WITH_NL"), cfg.Float("MODEL.BACKBONE.WIDTH_MULT"), cfg.String("MODEL.BACKBONE.STEM"));
    }

    private static Sequential MakeLayer(ref long inplanes, long planes, int blocks, int stride, string norm, bool ibn, bool bottleneck)
    {
        long expansion = bottleneck ? 4 : 1;
        Sequential? downsample = null;
        if (stride != 1 || inplanes != planes * expansion)
            downsample = nn.Sequential(("0", nn.Conv2d(inplanes, planes * expansion, 1, stride: stride, bias: false)),
                ("1", Norms.Create(norm, planes * expansion)));
        var list = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i < blocks; i++)
        {
            nn.Module<Tensor, Tensor> block = bottleneck
                ? new Bottleneck(inplanes, planes, norm, ibn, i == 0 ? stride : 1, i == 0 ? downsample : null)
                : new BasicBlock(inplanes, planes, norm, ibn, i == 0 ? stride : 1, i == 0 ? downsample : null);
            list.Add((i.ToString(System.Globalization.CultureInfo.InvariantCulture), block));
            inplanes = planes * expansion;
        }
        return nn.Sequential(list.ToArray());
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = maxpool.forward(nn.functional.relu(bn1.forward(conv1.forward(input))));
        x = Stage(layer1, NL_1, _nlIndices[0], x);
        x = Stage(layer2, NL_2, _nlIndices[1], x);
        x = Stage(layer3, NL_3, _nlIndices[2], x);
        x = Stage(layer4, NL_4, _nlIndices[3], x);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Overhaul distillation's view (Heo et al., 2019): the pre-ReLU output of each stage (its last block's sum
    /// before the ReLU) and the backbone's output, the same tensor <see cref="forward"/> gives. Stages ending in
    /// a non-local block have no pre-ReLU output, so a ResNet with them is refused.
    /// </summary>
    public (Tensor[] PreRelu, Tensor Output) ForwardStages(Tensor input)
    {
        if (_nlIndices.Any(i => i.Length > 0))
            throw new FastReidException("overhaul distillation reads each stage's pre-ReLU output, which non-local blocks hide: set MODEL.BACKBONE.WITH_NL False");
        using var scope = NewDisposeScope();
        var x = maxpool.forward(nn.functional.relu(bn1.forward(conv1.forward(input))));
        var pre = new Tensor[4];
        int s = 0;
        foreach (var layer in Stages)
        {
            var blocks = layer.children().Cast<nn.Module<Tensor, Tensor>>().ToList();
            foreach (var block in blocks.Take(blocks.Count - 1)) x = block.forward(x);
            pre[s] = ((IPreActivation)blocks[^1]).PreActivation(x);
            x = nn.functional.relu(pre[s]);
            pre[s++].MoveToOuterDisposeScope();
        }
        return (pre, x.MoveToOuterDisposeScope());
    }

    private Sequential[] Stages => [layer1, layer2, layer3, layer4];

    /// <summary>Channels of each stage's output, in order (what overhaul connectors are sized from).</summary>
    public long[] StageChannels => [.. NormsBeforeRelu.Select(n => n.num_features)];

    /// <summary>The batch norm of each stage's last block whose output (plus the shortcut) meets the ReLU: overhaul's margins come from it.</summary>
    public BatchNorm[] NormsBeforeRelu => [.. Stages.Select(l => ((IPreActivation)l.children().Last()).NormBeforeRelu)];

    private static Tensor Stage(Sequential layer, ModuleList<NonLocal>? nl, int[] nlIdx, Tensor x)
    {
        int counter = 0, i = 0;
        foreach (var block in layer.children())
        {
            x = ((nn.Module<Tensor, Tensor>)block).forward(x);
            if (nl is not null && counter < nlIdx.Length && i == nlIdx[counter]) x = nl[counter++].forward(x);
            i++;
        }
        return x;
    }
}

/// <summary>A residual block whose output before its final ReLU can be read (overhaul distillation).</summary>
internal interface IPreActivation
{
    /// <summary>The block's residual sum before the ReLU; <c>forward</c> is its ReLU.</summary>
    Tensor PreActivation(Tensor x);

    BatchNorm NormBeforeRelu { get; }
}

/// <summary>ResNet basic block (18/34).</summary>
internal sealed class BasicBlock : nn.Module<Tensor, Tensor>, IPreActivation
{
    private readonly Conv2d conv1, conv2;
    private readonly nn.Module<Tensor, Tensor> bn1;
    private readonly BatchNorm bn2;
    private readonly Sequential? downsample;

    public BasicBlock(long inplanes, long planes, string norm, bool ibn, int stride, Sequential? downsample) : base(nameof(BasicBlock))
    {
        conv1 = nn.Conv2d(inplanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = ibn ? new Ibn(planes, norm) : Norms.Create(norm, planes);
        conv2 = nn.Conv2d(planes, planes, 3, stride: 1, padding: 1, bias: false);
        bn2 = Norms.Create(norm, planes);
        this.downsample = downsample;
        RegisterComponents();
    }

    public BatchNorm NormBeforeRelu => bn2;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.relu(PreActivation(x)).MoveToOuterDisposeScope();
    }

    public Tensor PreActivation(Tensor x)
    {
        using var scope = NewDisposeScope();
        var o = nn.functional.relu(bn1.forward(conv1.forward(x)));
        o = bn2.forward(conv2.forward(o));
        var identity = downsample is null ? x : downsample.forward(x);
        return o.add(identity, Scalars.One).MoveToOuterDisposeScope();
    }
}

/// <summary>ResNet bottleneck block (50/101).</summary>
internal sealed class Bottleneck : nn.Module<Tensor, Tensor>, IPreActivation
{
    private readonly Conv2d conv1, conv2, conv3;
    private readonly nn.Module<Tensor, Tensor> bn1;
    private readonly BatchNorm bn2, bn3;
    private readonly Sequential? downsample;

    public Bottleneck(long inplanes, long planes, string norm, bool ibn, int stride, Sequential? downsample) : base(nameof(Bottleneck))
    {
        conv1 = nn.Conv2d(inplanes, planes, 1, bias: false);
        bn1 = ibn ? new Ibn(planes, norm) : Norms.Create(norm, planes);
        conv2 = nn.Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = Norms.Create(norm, planes);
        conv3 = nn.Conv2d(planes, planes * 4, 1, bias: false);
        bn3 = Norms.Create(norm, planes * 4);
        this.downsample = downsample;
        RegisterComponents();
    }

    public BatchNorm NormBeforeRelu => bn3;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.relu(PreActivation(x)).MoveToOuterDisposeScope();
    }

    public Tensor PreActivation(Tensor x)
    {
        using var scope = NewDisposeScope();
        var o = nn.functional.relu(bn1.forward(conv1.forward(x)));
        o = nn.functional.relu(bn2.forward(conv2.forward(o)));
        o = bn3.forward(conv3.forward(o));
        var identity = downsample is null ? x : downsample.forward(x);
        return o.add(identity, Scalars.One).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// FastReID's non-local block. FastReID computes its inner width as <c>reduc_ratio // reduc_ratio</c>,
/// i.e. 1 channel; we keep that so FastReID's non-local checkpoints load.
/// </summary>
public sealed class NonLocal : nn.Module<Tensor, Tensor>
{
    private const long Inter = 1;
    private readonly Conv2d g, theta, phi;
    private readonly Sequential W;

    public NonLocal(long channels, string norm) : base(nameof(NonLocal))
    {
        g = nn.Conv2d(channels, Inter, 1);
        var bn = Norms.Create(norm, channels);
        nn.init.zeros_(bn.weight!);
        W = nn.Sequential(("0", nn.Conv2d(Inter, channels, 1)), ("1", bn));
        theta = nn.Conv2d(channels, Inter, 1);
        phi = nn.Conv2d(channels, Inter, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0];
        var gx = g.forward(x).view(n, Inter, -1).permute(0, 2, 1);
        var tx = theta.forward(x).view(n, Inter, -1).permute(0, 2, 1);
        var px = phi.forward(x).view(n, Inter, -1);
        var f = torch.matmul(tx, px);
        var y = torch.matmul(f / f.shape[^1], gx).permute(0, 2, 1).contiguous().view(n, Inter, x.shape[2], x.shape[3]);
        return W.forward(y).add(x, Scalars.One).MoveToOuterDisposeScope();
    }
}
