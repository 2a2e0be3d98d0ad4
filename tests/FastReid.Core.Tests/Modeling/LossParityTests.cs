using System.Text.Json.Nodes;
using FastReid.IO;
using FastReid.Modeling.Layers;
using FastReid.Modeling.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Modeling;

/// <summary>
/// Our losses and classifier layers against FastReID's formulas computed by the real PyTorch
/// (tests/pytorch/losses.py, run by Debian's python3-torch) on the same tensors: the loss and its gradient
/// with respect to the input, within 1e-5 relative.
/// </summary>
public sealed class LossParityTests : IDisposable
{
    private const double Tolerance = 1e-5;
    private readonly string _dir = Directory.CreateTempSubdirectory("loss-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A case: what the reference computes (its JSON spec) and what we compute on the same input.</summary>
    private sealed record Case(JsonObject Spec, Func<Tensor, Tensor, (Tensor Loss, Tensor? Outputs)> Ours);

    private static Case Ce(double epsilon, double alpha = 0.2) => new(
        new JsonObject { ["loss"] = "cross_entropy", ["input"] = "logits", ["epsilon"] = epsilon, ["alpha"] = alpha },
        (x, t) => (Losses.CrossEntropy(x, t, epsilon, alpha), null));

    private static Case Triplet(double margin, bool normFeat, bool hardMining, string input = "features") => new(
        new JsonObject { ["loss"] = "triplet", ["input"] = input, ["margin"] = margin, ["norm_feat"] = normFeat, ["hard_mining"] = hardMining },
        (x, t) => (Losses.Triplet(x, t, margin, normFeat, hardMining), null));

    private static Case Circle(double margin, double gamma) => new(
        new JsonObject { ["loss"] = "circle", ["input"] = "features", ["margin"] = margin, ["gamma"] = gamma },
        (x, t) => (Losses.Circle(x, t, margin, gamma), null));

    private static Case CosFace(double margin, double gamma) => new(
        new JsonObject { ["loss"] = "cosface", ["input"] = "features", ["margin"] = margin, ["gamma"] = gamma },
        (x, t) => (Losses.CosFace(x, t, margin, gamma), null));

    /// <summary>A classifier layer on cosines, then cross-entropy with smoothing: both its outputs and the gradient are compared.</summary>
    private static Case Classifier(string kind, double scale, double margin) => new(
        new JsonObject { ["loss"] = "classifier", ["input"] = "cosines", ["kind"] = kind, ["scale"] = scale, ["margin"] = margin, ["epsilon"] = 0.1, ["alpha"] = 0.2 },
        (x, t) =>
        {
            var outputs = new AnySoftmax(kind, scale, margin).Apply(x, t);
            return (Losses.CrossEntropy(outputs, t, 0.1, 0.2), outputs);
        });

    private static IReadOnlyList<Case> Cases() =>
    [
        Ce(0.0), Ce(0.1), Ce(-1, alpha: 0.2),
        Triplet(0.3, normFeat: false, hardMining: true), Triplet(0.3, normFeat: false, hardMining: false),
        Triplet(0.3, normFeat: true, hardMining: true), Triplet(0.3, normFeat: true, hardMining: false),
        Triplet(0.0, normFeat: false, hardMining: true), Triplet(0.0, normFeat: false, hardMining: false),
        Triplet(0.0, normFeat: true, hardMining: true), Triplet(0.0, normFeat: true, hardMining: false),
        Triplet(0.0, normFeat: false, hardMining: true, input: "far_features"), // the soft margin overflows: FastReID's 0.3 fallback
        Circle(0.25, 128), Circle(0.4, 64),
        CosFace(0.25, 128), CosFace(0.35, 32),
        Classifier("Linear", 1, 0), Classifier("CosSoftmax", 30, 0.35),
        Classifier("ArcSoftmax", 30, 0.5), Classifier("CircleSoftmax", 64, 0.35),
    ];

    [Theory]
    [InlineData("float32")]
    [InlineData("float64")]
    public void Losses_and_gradients_match_pytorch_formulas(string dtypeName)
    {
        var dtype = dtypeName == "float32" ? ScalarType.Float32 : ScalarType.Float64;
        var inputs = Inputs(dtype);
        var cases = Cases();
        var (inputFile, casesFile, outputFile) = (Path.Combine(_dir, "in.npz"), Path.Combine(_dir, "cases.json"), Path.Combine(_dir, "out.npz"));
        Npz.Write(inputFile, inputs.ToDictionary(kv => kv.Key, kv => ToNpy(kv.Value)));
        File.WriteAllText(casesFile, new JsonArray(cases.Select(c => (JsonNode)c.Spec.DeepClone()).ToArray()).ToJsonString());
        var (code, log) = PyTorchReference.Run("losses.py", inputFile, casesFile, outputFile);
        Assert.True(code == 0, log);
        var reference = Npz.Read(outputFile);

        var failures = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            var (spec, ours) = (cases[i].Spec, cases[i].Ours);
            using var scope = NewDisposeScope();
            var x = inputs[(string)spec["input"]!].clone().requires_grad_(true);
            var (loss, outputs) = ours(x, inputs["targets"]);
            loss.backward();
            var checks = new List<(string What, double[] Ours, double[] Theirs)>
            {
                ("loss", Values(loss), Values(reference[$"{i}.loss"])),
                ("gradient", Values(x.grad!), Values(reference[$"{i}.grad"])),
            };
            if (outputs is not null) checks.Add(("outputs", Values(outputs), Values(reference[$"{i}.outputs"])));
            foreach (var (what, a, b) in checks)
            {
                double err = RelativeError(a, b);
                if (!(err <= Tolerance)) failures.Add($"{spec.ToJsonString()}: {what} relative error {err:G3} (ours {Head(a)}, PyTorch {Head(b)})");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases differ from PyTorch ({dtypeName}):\n" + string.Join("\n", failures));
    }

    /// <summary>
    /// A P×K batch (4 identities × 4 images, shuffled), features, features far apart (so that the soft margin
    /// overflows), logits, and cosines in (−1, 1) with one true-class cosine below cos(π − 0.5), where
    /// an older ArcSoftmax switched to its fallback.
    /// </summary>
    private static Dictionary<string, Tensor> Inputs(ScalarType dtype)
    {
        var g = new Generator(20240715);
        var targets = tensor(new long[] { 2, 0, 3, 1, 0, 2, 1, 3, 3, 1, 0, 2, 1, 3, 2, 0 });
        var features = randn([16, 32], generator: g).to(dtype);
        var cosines = (rand([16, 10], generator: g) * 1.9 - 0.95).to(dtype);
        cosines[0, 2] = tensor(-0.95, dtype); // targets[0] is 2
        return new Dictionary<string, Tensor>
        {
            ["targets"] = targets,
            ["features"] = features,
            ["far_features"] = features * 10000,
            ["logits"] = (randn([16, 10], generator: g) * 3).to(dtype),
            ["cosines"] = cosines,
        };
    }

    private static NpyArray ToNpy(Tensor t)
    {
        var shape = t.shape;
        return t.dtype switch
        {
            ScalarType.Int64 => NpyArray.Of(t.data<long>().ToArray(), shape),
            ScalarType.Float32 => NpyArray.Of(t.data<float>().ToArray(), shape),
            _ => NpyArray.Of(t.data<double>().ToArray(), shape),
        };
    }

    private static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static double[] Values(NpyArray a) => a.Data switch
    {
        float[] f => f.Select(v => (double)v).ToArray(),
        double[] d => d,
        _ => throw new InvalidOperationException($"unexpected reference dtype {a.Dtype}"),
    };

    /// <summary>‖a − b‖ / ‖b‖ (an absolute difference when the reference is zero).</summary>
    private static double RelativeError(double[] a, double[] b)
    {
        if (a.Length != b.Length) return double.PositiveInfinity;
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            norm += b[i] * b[i];
        }
        return Math.Sqrt(diff) / Math.Max(Math.Sqrt(norm), 1e-12);
    }

    private static string Head(double[] v) => string.Join(", ", v.Take(3).Select(x => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture))) + (v.Length > 3 ? ", …" : "");
}
