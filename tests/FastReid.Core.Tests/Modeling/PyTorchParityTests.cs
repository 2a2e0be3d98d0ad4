using System.Globalization;
using System.Text.Json;
using FastReid.Config;
using FastReid.Engine;
using FastReid.IO;
using FastReid.Modeling.MetaArch;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Modeling;

/// <summary>
/// Issue 18: our Baseline computes FastReID's features, proven against real PyTorch. tests/pytorch/baseline.py is a
/// PyTorch Baseline built on torchvision's ResNet modules; tests/pytorch/model_cases.json lists the configurations
/// (ResNet-18/34/50/101, IBN-a, non-local, every pooling kind, embedding conv, BNNeck, both stems) and how PyTorch
/// writes each case's weights (zip, legacy, a training checkpoint with a Counter, FastReID v0.1 names). Both
/// directions: PyTorch's files load into the model embed, evaluate and export use and give PyTorch's features, and
/// the model_final.pth we write of that model loads strictly into PyTorch and gives our features there.
/// </summary>
public sealed class PyTorchParityTests(PyTorchParityTests.WrittenByPyTorch pytorch, ITestOutputHelper output) : IClassFixture<PyTorchParityTests.WrittenByPyTorch>, IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly string _dir = Directory.CreateTempSubdirectory("pytorch-parity-ours-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>model_parity.py's weights and features of every case, written once for both tests.</summary>
    public sealed class WrittenByPyTorch : IDisposable
    {
        public string Dir { get; } = Directory.CreateTempSubdirectory("pytorch-parity-").FullName;
        public (int Code, string Log) Written { get; }

        public WrittenByPyTorch() => Written = PyTorchReference.Run("model_parity.py", "write", Dir);

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }

    [Fact]
    public void PyTorch_written_checkpoints_load_for_embedding_and_give_the_reference_features()
    {
        using var images = WrittenImages();
        var failures = new List<string>();
        foreach (var c in Cases())
        {
            try
            {
                using var model = LoadWritten(c);
                var expected = Npz.Read(Path.Combine(pytorch.Dir, c.Name + ".npz"))["features"];
                using var _ = no_grad();
                using var features = model.forward(images);
                failures.AddRange(Compare(c.Name, (float[])expected.Data, expected.Shape, features));
            }
            catch (FastReidException e)
            {
                failures.Add($"{c.Name} ({c.Format}): {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Our_model_final_pth_loads_into_pytorch_and_gives_our_features()
    {
        using var images = WrittenImages();
        File.Copy(Path.Combine(pytorch.Dir, "input.npz"), Path.Combine(_dir, "input.npz"));
        foreach (var c in Cases())
        {
            using var model = LoadWritten(c);
            WeightLoading.Save(model, Path.Combine(_dir, c.Name + ".pth")); // what training writes as model_final.pth
            using var _ = no_grad();
            using var features = model.forward(images).contiguous();
            Npz.Write(Path.Combine(_dir, c.Name + ".npz"), new Dictionary<string, NpyArray> { ["features"] = NpyArray.Of(features.data<float>().ToArray(), features.shape) });
        }
        var (code, log) = PyTorchReference.Run("model_parity.py", "check", _dir);
        output.WriteLine(log);
        Assert.True(code == 0, log);
    }

    private Tensor WrittenImages()
    {
        output.WriteLine(pytorch.Written.Log);
        Assert.True(pytorch.Written.Code == 0, "model_parity.py write failed:\n" + pytorch.Written.Log);
        var array = Npz.Read(Path.Combine(pytorch.Dir, "input.npz"))["images"];
        return torch.tensor((float[])array.Data, array.Shape);
    }

    /// <summary>The case's PyTorch-written weights, loaded as embed, evaluate and export load MODEL.WEIGHTS (every tensor must fit).</summary>
    private MetaArch LoadWritten(Case c) =>
        InferenceModel.Load(ConfigOf(c, "MODEL.WEIGHTS", Path.Combine(pytorch.Dir, c.Name + ".pth")), CPU, line => output.WriteLine($"{c.Name}: {line}"));

    private sealed record Case(string Name, int Depth, bool Ibn, bool Nl, string Pool, int EmbeddingDim, bool Bnneck, int LastStride, string Stem, string Format);

    private static IReadOnlyList<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(PyTorchReference.ScriptDir, "model_cases.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => new Case(
            e.GetProperty("name").GetString()!, e.GetProperty("depth").GetInt32(), e.GetProperty("ibn").GetBoolean(), e.GetProperty("nl").GetBoolean(),
            e.GetProperty("pool").GetString()!, e.GetProperty("embedding_dim").GetInt32(), e.GetProperty("bnneck").GetBoolean(),
            e.GetProperty("last_stride").GetInt32(), e.GetProperty("stem").GetString()!, e.GetProperty("format").GetString()!)).ToList();
    }

    private static FastReidConfig ConfigOf(Case c, params string[] more)
    {
        string B(bool b) => b ? "True" : "False";
        string I(int i) => i.ToString(CultureInfo.InvariantCulture);
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", $"{c.Depth}x", "MODEL.BACKBONE.FEAT_DIM", c.Depth < 50 ? "512" : "2048",
            "MODEL.BACKBONE.LAST_STRIDE", I(c.LastStride), "MODEL.BACKBONE.WITH_IBN", B(c.Ibn), "MODEL.BACKBONE.WITH_NL", B(c.Nl),
            "MODEL.BACKBONE.STEM", c.Stem, "MODEL.HEADS.POOL_LAYER", c.Pool, "MODEL.HEADS.EMBEDDING_DIM", I(c.EmbeddingDim),
            "MODEL.HEADS.WITH_BNNECK", B(c.Bnneck), .. more]);
        return cfg;
    }

    private IEnumerable<string> Compare(string name, float[] expected, long[] shape, Tensor features)
    {
        if (!features.shape.SequenceEqual(shape))
        {
            yield return $"{name}: features [{string.Join(", ", features.shape)}], PyTorch's [{string.Join(", ", shape)}]";
            yield break;
        }
        using var reference = torch.tensor(expected, shape);
        using var errors = (features - reference).norm(1) / reference.norm(1);
        var values = errors.data<float>().ToArray();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: max relative error {values.Max():E2} over {values.Length} images (dim {shape[1]})"));
        for (int i = 0; i < values.Length; i++)
            if (!(values[i] <= Tolerance))
                yield return string.Create(CultureInfo.InvariantCulture, $"{name}: image {i}: relative error {values[i]:E2} > {Tolerance:E0}");
    }
}
