using FastReid.Modeling.Backbones;
using FastReid.Modeling.Heads;
using FastReid.Modeling.Layers;
using FastReid.Modeling.MetaArch;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static FastReid.Export.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace FastReid.Export;

/// <summary>
/// Writes the evaluation path of a <see cref="Baseline"/> (what <c>Baseline.forward</c> computes in eval
/// mode) as an ONNX graph: <c>images</c> float32 [batch, 3, H, W] RGB 0–255 in, <c>features</c> [batch, D]
/// out. Eval-mode batch norms are folded into the convolution before them; anything this writer does not
/// know is refused by name rather than exported approximately.
/// </summary>
public static class BaselineOnnxWriter
{
    public const string InputName = "images";
    public const string OutputName = "features";

    /// <param name="staticBatch">null for a dynamic batch axis.</param>
    /// <remarks>Only <see cref="MetaArch.SavedModule"/> is written, which must have a Baseline's shape (backbone, heads,
    /// pixel buffers): what a meta-architecture keeps outside it (a Distiller's teachers) is never exported.</remarks>
    public static ModelProto Write(MetaArch model, long height, long width, int opset = 17, long? staticBatch = null)
    {
        if (opset < 17) throw new FastReidException($"--opset {opset}: the exporter writes opset 17 or newer (Split with a 'split' input, BatchNormalization-15)");
        if (height < 1 || width < 1) throw new FastReidException($"input size {height}x{width} is not valid");
        if (staticBatch is < 1) throw new FastReidException($"--batch {staticBatch}: a static batch must be at least 1");
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope(); // every detached copy made while writing
        var g = new OnnxGraphBuilder();
        g.Input(InputName, staticBatch, 3, height, width);
        var saved = model.SavedModule;
        var children = Children(saved, "model");
        // non-persistent buffers: named_buffers() leaves them out, get_buffer() finds them
        if (saved.get_buffer("pixel_mean") is not { } mean || saved.get_buffer("pixel_std") is not { } std)
            throw new FastReidException("the model has no pixel_mean/pixel_std buffers to export");
        var x = g.Node("Sub", "normalize/sub", [InputName, g.Constant("pixel_mean", Floats(mean), 1, 3, 1, 1)]);
        x = g.Node("Div", "normalize", [x, g.Constant("pixel_std", Floats(std), 1, 3, 1, 1)]);

        var backbone = Require<ResNet>(children, "backbone", "model");
        var (features, _, _) = WriteResNet(g, backbone, x, height, width);
        var head = Require<EmbeddingHead>(children, "heads", "model");
        var (embedding, dim) = WriteHead(g, head, features, backbone.OutChannels);
        g.RenameOutput(embedding, OutputName);
        g.Output(OutputName, staticBatch, dim);
        return g.Build(opset, typeof(BaselineOnnxWriter).Assembly.GetName().Version?.ToString() ?? "0",
            $"FastReID Baseline, input {InputName} [batch, 3, {height}, {width}] RGB 0-255, output {OutputName} [batch, {dim}]");
    }

    private static (string Out, long H, long W) WriteResNet(OnnxGraphBuilder g, ResNet net, string x, long h, long w)
    {
        var c = Children(net, "backbone");
        Known(c, "backbone", "conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "NL_1", "NL_2", "NL_3", "NL_4");
        var conv1 = Require<Conv2d>(c, "conv1", "backbone");
        (x, h, w) = ConvNorm(g, "backbone.conv1", x, conv1, c["bn1"], h, w);
        x = g.Node("Relu", "backbone.relu", [x]);
        (x, h, w) = MaxPool(g, "backbone.maxpool", x, Require<MaxPool2d>(c, "maxpool", "backbone"), h, w);
        for (int s = 1; s <= 4; s++)
        {
            var layer = Require<Sequential>(c, $"layer{s}", "backbone");
            var blocks = Children(layer, $"backbone.layer{s}").ToList();
            var nonLocals = c.TryGetValue($"NL_{s}", out var nl) ? Children(nl, $"backbone.NL_{s}").Select(p => p.Value).ToList() : [];
            // ResNet.Stage puts the k non-local blocks of a stage after its last k residual blocks, in order.
            int firstNl = blocks.Count - nonLocals.Count;
            for (int i = 0; i < blocks.Count; i++)
            {
                var (name, block) = (blocks[i].Key, blocks[i].Value);
                var prefix = $"backbone.layer{s}.{name}";
                (x, h, w) = block switch
                {
                    BasicBlock or Bottleneck => Residual(g, prefix, block, x, h, w),
                    _ => throw Unsupported(prefix, block),
                };
                if (i >= firstNl)
                {
                    var nlModule = nonLocals[i - firstNl];
                    if (nlModule is not NonLocal nonLocal) throw Unsupported($"backbone.NL_{s}.{i - firstNl}", nlModule);
                    x = WriteNonLocal(g, $"backbone.NL_{s}.{i - firstNl}", nonLocal, x, h, w);
                }
            }
        }
        return (x, h, w);
    }

    /// <summary>BasicBlock and Bottleneck: conv-norm(-relu) chain, identity or downsample shortcut, add, relu.</summary>
    private static (string, long, long) Residual(OnnxGraphBuilder g, string prefix, nn.Module block, string input, long h, long w)
    {
        var c = Children(block, prefix);
        bool bottleneck = block is Bottleneck;
        Known(c, prefix, bottleneck ? ["conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample"] : ["conv1", "bn1", "conv2", "bn2", "downsample"]);
        int convs = bottleneck ? 3 : 2;
        string x = input;
        long oh = h, ow = w;
        for (int i = 1; i <= convs; i++)
        {
            (x, oh, ow) = ConvNorm(g, $"{prefix}.conv{i}", x, Require<Conv2d>(c, $"conv{i}", prefix), c[$"bn{i}"], oh, ow);
            if (i < convs) x = g.Node("Relu", $"{prefix}.relu{i}", [x]);
        }
        string identity = input;
        if (c.TryGetValue("downsample", out var down))
        {
            var d = Children(down, prefix + ".downsample");
            Known(d, prefix + ".downsample", "0", "1");
            (identity, _, _) = ConvNorm(g, prefix + ".downsample.0", input, Require<Conv2d>(d, "0", prefix + ".downsample"), d["1"], h, w);
        }
        x = g.Node("Add", prefix + ".add", [x, identity]);
        return (g.Node("Relu", prefix + ".out", [x]), oh, ow);
    }

    /// <summary>FastReID's non-local block (see <see cref="NonLocal"/>): y = W(softmax-free attention) + x.</summary>
    private static string WriteNonLocal(OnnxGraphBuilder g, string prefix, NonLocal block, string x, long h, long w)
    {
        var c = Children(block, prefix);
        Known(c, prefix, "g", "theta", "phi", "W");
        var gConv = Require<Conv2d>(c, "g", prefix);
        long inter = gConv.out_channels;
        var flat = g.Int64s(prefix + ".flat_shape", 0, inter, -1);
        string Branch(string name, bool transpose)
        {
            var (y, _, _) = ConvNorm(g, $"{prefix}.{name}", x, Require<Conv2d>(c, name, prefix), null, h, w);
            y = g.Node("Reshape", $"{prefix}.{name}.flat", [y, flat]);
            return transpose ? g.Node("Transpose", $"{prefix}.{name}.t", [y], Attr("perm", 0L, 2L, 1L)) : y;
        }
        var gx = Branch("g", transpose: true);
        var tx = Branch("theta", transpose: true);
        var px = Branch("phi", transpose: false);
        var f = g.Node("MatMul", prefix + ".f", [tx, px]);
        f = g.Node("Div", prefix + ".f_scaled", [f, g.Constant(prefix + ".positions", [h * w])]);
        var y = g.Node("MatMul", prefix + ".y", [f, gx]);
        y = g.Node("Transpose", prefix + ".y.t", [y], Attr("perm", 0L, 2L, 1L));
        y = g.Node("Reshape", prefix + ".y.map", [y, g.Int64s(prefix + ".map_shape", 0, inter, h, w)]);
        var wSeq = Children(Require<Sequential>(c, "W", prefix), prefix + ".W");
        Known(wSeq, prefix + ".W", "0", "1");
        var (z, _, _) = ConvNorm(g, prefix + ".W.0", y, Require<Conv2d>(wSeq, "0", prefix + ".W"), wSeq["1"], h, w);
        return g.Node("Add", prefix + ".out", [z, x]);
    }

    private static (string, long) WriteHead(OnnxGraphBuilder g, EmbeddingHead head, string x, long channels)
    {
        var c = Children(head, "heads");
        var pool = c.TryGetValue("pool_layer", out var p) ? p : throw new FastReidException("heads: no pool_layer to export");
        x = pool switch
        {
            AdaptiveAvgPool2d => g.Node("GlobalAveragePool", "heads.pool", [x]),
            AdaptiveMaxPool2d => g.Node("GlobalMaxPool", "heads.pool", [x]),
            AdaptiveAvgMaxPool => g.Node("Add", "heads.pool",
                [g.Node("GlobalAveragePool", "heads.pool.avg", [x]), g.Node("GlobalMaxPool", "heads.pool.max", [x])]),
            GeneralizedMeanPooling gem => GeM(g, gem, x),
            _ => throw Unsupported("heads.pool_layer", pool),
        };
        long dim = channels;
        var neck = Children(Require<Sequential>(c, "bottleneck", "heads"), "heads.bottleneck").Select(kv => kv.Value).ToList();
        int i = 0;
        if (i < neck.Count && neck[i] is Conv2d embed)
        {
            var bn = i + 1 < neck.Count ? neck[i + 1] : null;
            (x, _, _) = ConvNorm(g, "heads.bottleneck.0", x, embed, bn, 1, 1);
            dim = embed.out_channels;
            i += bn is null ? 1 : 2;
        }
        else if (i < neck.Count && neck[i] is BatchNorm bnneck)
        {
            x = BatchNorm(g, "heads.bottleneck.0", x, bnneck);
            i++;
        }
        if (i < neck.Count) throw Unsupported($"heads.bottleneck.{i}", neck[i]);
        return (g.Node("Flatten", "heads.flatten", [x], Attr("axis", 1L)), dim);
    }

    /// <summary>GeM: (mean max(x, eps)^p)^(1/p), as <see cref="GeneralizedMeanPooling"/> computes it.</summary>
    private static string GeM(OnnxGraphBuilder g, GeneralizedMeanPooling gem, string x)
    {
        const float eps = 1e-6f; // GeneralizedMeanPooling.Eps
        float pValue = (float)gem.P;
        x = g.Node("Max", "heads.pool.clamp", [x, g.Constant("heads.pool.eps", [eps])]);
        x = g.Node("Pow", "heads.pool.pow", [x, g.Constant("heads.pool.p", [pValue])]);
        x = g.Node("GlobalAveragePool", "heads.pool.mean", [x]);
        return g.Node("Pow", "heads.pool", [x, g.Constant("heads.pool.inv_p", [1f / pValue])]);
    }

    /// <summary>
    /// A convolution followed by an optional eval-mode norm: BatchNorm2d is folded into the weights and bias
    /// (computed in float64, rounded once); IBN-a folds its BN half and adds InstanceNormalization on the other.
    /// </summary>
    private static (string, long, long) ConvNorm(OnnxGraphBuilder g, string prefix, string x, Conv2d conv, nn.Module? norm, long h, long w)
    {
        if (conv.groups != 1 || conv.transposed || conv.padding_type is not null || conv.padding_mode != PaddingModes.Zeros)
            throw new FastReidException($"{prefix}: only plain zero-padded, ungrouped convolutions are exported");
        long outC = conv.out_channels;
        using var scale = torch.ones(outC, float64);
        using var shift = torch.zeros(outC, float64);
        BatchNorm? bn = norm as BatchNorm; // BN or syncBN: in eval mode both are the plain batch norm
        InstanceNorm2d? instance = null;
        long half = 0;
        if (norm is Ibn)
        {
            var parts = Children(norm, prefix + ".ibn");
            instance = Require<InstanceNorm2d>(parts, "IN", prefix + ".ibn");
            bn = Require<BatchNorm>(parts, "BN", prefix + ".ibn");
            half = instance.num_features;
        }
        else if (norm is not null && bn is null) throw Unsupported(prefix + " norm", norm);
        if (bn is not null)
        {
            var (s, b) = BnAffine(bn);
            scale[TensorIndex.Slice(half)] = s;
            shift[TensorIndex.Slice(half)] = b;
        }
        using var weight = conv.weight!.detach().cpu().to(float64) * scale.view(-1, 1, 1, 1);
        using var bias = (conv.bias is null ? torch.zeros(outC, float64) : conv.bias.detach().cpu().to(float64) * scale) + shift;
        var k = conv.kernel_size;
        var wName = g.Constant(prefix + ".weight", Floats(weight), weight.shape);
        var bName = g.Constant(prefix + ".bias", Floats(bias), outC);
        var pad = conv.padding ?? [0, 0];
        var y = g.Node("Conv", prefix, [x, wName, bName],
            Attr("kernel_shape", k), Attr("strides", conv.stride), Attr("pads", pad[0], pad[1], pad[0], pad[1]), Attr("dilations", conv.dilation));
        long oh = (h + 2 * pad[0] - conv.dilation[0] * (k[0] - 1) - 1) / conv.stride[0] + 1;
        long ow = (w + 2 * pad[1] - conv.dilation[1] * (k[1] - 1) - 1) / conv.stride[1] + 1;
        if (instance is not null)
        {
            var split = g.NodeN("Split", prefix + ".ibn.split", [y, g.Int64s(prefix + ".ibn.sizes", half, outC - half)], 2, Attr("axis", 1L));
            using var one = torch.ones(half);
            using var zero = torch.zeros(half);
            var inScale = g.Constant(prefix + ".IN.weight", Floats(instance.weight ?? one), half);
            var inBias = g.Constant(prefix + ".IN.bias", Floats(instance.bias ?? zero), half);
            if (instance.track_running_stats) throw new FastReidException($"{prefix}.IN: instance norm with running statistics is not exported");
            var normed = g.Node("InstanceNormalization", prefix + ".IN", [split[0], inScale, inBias], Attr("epsilon", (float)instance.eps));
            y = g.Node("Concat", prefix + ".ibn", [normed, split[1]], Attr("axis", 1L));
        }
        return (y, oh, ow);
    }

    private static string BatchNorm(OnnxGraphBuilder g, string prefix, string x, BatchNorm bn)
    {
        var (s, b) = BnAffine(bn);
        long n = bn.num_features;
        // y = x * s + b, the eval-mode batch norm with its statistics folded in (exact up to float32 rounding)
        var y = g.Node("Mul", prefix + ".scale", [x, g.Constant(prefix + ".scale", Floats(s), 1, n, 1, 1)]);
        return g.Node("Add", prefix, [y, g.Constant(prefix + ".shift", Floats(b), 1, n, 1, 1)]);
    }

    /// <summary>Eval-mode batch norm as y = x * scale + shift (float64).</summary>
    private static (Tensor Scale, Tensor Shift) BnAffine(BatchNorm bn)
    {
        if (bn.running_mean is null || bn.running_var is null)
            throw new FastReidException("batch norm without running statistics cannot be exported");
        var mean = bn.running_mean.detach().cpu().to(float64);
        var var_ = bn.running_var.detach().cpu().to(float64);
        var gamma = bn.weight is null ? torch.ones_like(mean) : bn.weight.detach().cpu().to(float64);
        var beta = bn.bias is null ? torch.zeros_like(mean) : bn.bias.detach().cpu().to(float64);
        var scale = gamma / torch.sqrt(var_ + bn.eps);
        return (scale, beta - mean * scale);
    }

    private static (string, long, long) MaxPool(OnnxGraphBuilder g, string prefix, string x, MaxPool2d pool, long h, long w)
    {
        var k = pool.kernel_size;
        var s = pool.stride ?? k;
        var p = pool.padding ?? [0, 0];
        if (pool.dilation is { } d && d.Any(v => v != 1)) throw new FastReidException($"{prefix}: dilated max pooling is not exported");
        // PyTorch's ceil mode drops a last window that would start in the right padding; ONNX's does not.
        // Extra right/bottom padding (max ignores it) with floor mode reproduces PyTorch's sizes exactly.
        long Torch(long n, int i)
        {
            long num = n + 2 * p[i] - k[i];
            long o = (pool.ceil_mode ? (num + s[i] - 1) / s[i] : num / s[i]) + 1;
            if (pool.ceil_mode && (o - 1) * s[i] >= n + p[i]) o--;
            return o;
        }
        long oh = Torch(h, 0), ow = Torch(w, 1);
        long endH = (oh - 1) * s[0] + k[0] - h - p[0];
        long endW = (ow - 1) * s[1] + k[1] - w - p[1];
        var y = g.Node("MaxPool", prefix, [x], Attr("kernel_shape", k), Attr("strides", s), Attr("pads", p[0], p[1], endH, endW), Attr("ceil_mode", 0L));
        return (y, oh, ow);
    }

    private static Dictionary<string, nn.Module> Children(nn.Module module, string where) =>
        module.named_children().ToDictionary(c => c.Item1, c => c.Item2);

    private static T Require<T>(Dictionary<string, nn.Module> children, string name, string where) where T : nn.Module =>
        children.TryGetValue(name, out var m)
            ? m as T ?? throw Unsupported($"{where}.{name}", m)
            : throw new FastReidException($"{where}: expected a submodule '{name}' ({typeof(T).Name}) to export");

    private static void Known(Dictionary<string, nn.Module> children, string where, params string[] names)
    {
        foreach (var (name, module) in children)
            if (!names.Contains(name)) throw Unsupported($"{where}.{name}", module);
    }

    private static FastReidException Unsupported(string where, nn.Module module) =>
        new($"ONNX export: {where} is a {module.GetType().Name}, which the exporter does not support yet");

    private static float[] Floats(Tensor t) => t.detach().cpu().to(float32).contiguous().data<float>().ToArray();
}
