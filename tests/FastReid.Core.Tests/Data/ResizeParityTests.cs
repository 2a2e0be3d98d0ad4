using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.Data;
using FastReid.IO;
using SkiaSharp;
using Xunit.Abstractions;

namespace FastReid.Core.Tests.Data;

/// <summary>
/// <see cref="ImageDecoder"/> against what FastReID feeds its model: PIL's bicubic resize (Debian's
/// python3-pil, tests/pytorch/resize.py) of the same files, at most 1 apart on 8-bit values, on the
/// downscales of real re-id crops and the upscales of small ones.
/// </summary>
public sealed class ResizeParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("resize-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Resized_images_match_pil_bicubic()
    {
        // (source height, width) -> (input height, width)
        var cases = new (int H, int W, int OutH, int OutW, string Format)[]
        {
            (300, 150, 128, 64, "png"),  // a 2.3x shrink, the size of many CUHK03 / MSMT17 crops
            (500, 250, 128, 64, "png"),  // 3.9x
            (256, 128, 128, 64, "png"),  // exactly 2x
            (128, 64, 256, 128, "png"),  // a Market-size crop up to FastReID's 256x128
            (97, 41, 128, 64, "png"),    // a small detection, non-integer upscale
            (200, 50, 128, 64, "png"),   // shrinks one axis, enlarges the other
            (128, 100, 128, 64, "png"),  // one axis only
            (300, 150, 256, 128, "jpg"), // through JPEG decoding, as datasets are stored
            (300, 150, 128, 64, "rgba.png"), // translucent pixels: PIL keeps their colour and drops alpha
            (128, 64, 128, 64, "rgba.png"),  // the same, at the input size
        };
        var jobs = new JsonArray();
        var files = new List<string>();
        for (int i = 0; i < cases.Length; i++)
        {
            var (h, w, outH, outW, format) = cases[i];
            var path = Path.Combine(_dir, $"{i}.{format}");
            WriteImage(path, h, w, seed: i);
            files.Add(path);
            jobs.Add(new JsonObject { ["path"] = path, ["height"] = outH, ["width"] = outW });
        }
        var jobsFile = Path.Combine(_dir, "jobs.json");
        var outFile = Path.Combine(_dir, "pil.npz");
        File.WriteAllText(jobsFile, jobs.ToJsonString());
        var (code, log) = PyTorchReference.Run("resize.py", jobsFile, outFile);
        Assert.True(code == 0, log);
        var pil = Npz.Read(outFile);

        var report = new List<string>();
        bool ok = true;
        for (int i = 0; i < cases.Length; i++)
        {
            var (h, w, outH, outW, format) = cases[i];
            var ours = ImageDecoder.Decode(files[i], outH, outW);
            var theirs = (byte[])pil[i.ToString(CultureInfo.InvariantCulture)].Data;
            Assert.Equal(theirs.Length, ours.Length);
            int max = 0;
            long sum = 0;
            for (int j = 0; j < ours.Length; j++)
            {
                int d = Math.Abs(ours[j] - theirs[j]);
                max = Math.Max(max, d);
                sum += d;
            }
            ok &= max <= 1;
            report.Add(string.Create(CultureInfo.InvariantCulture, $"{w}x{h} {format} -> {outW}x{outH}: max {max}, mean {(double)sum / ours.Length:F4}"));
        }
        foreach (var line in report) output.WriteLine(line);
        Assert.True(ok, "differences from PIL (width x height):\n" + string.Join("\n", report));
    }

    /// <summary>
    /// A test image with what resampling has to get right: smooth gradients, sharp edges (a checkerboard,
    /// stripes one pixel wide) and per-pixel noise, in all three channels differently; opaque unless its
    /// name ends in <c>.rgba.png</c>.
    /// </summary>
    private static void WriteImage(string path, int h, int w, int seed)
    {
        var random = new Random(seed);
        bool alpha = path.EndsWith(".rgba.png", StringComparison.Ordinal);
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, alpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int checker = ((x / 7) + (y / 5)) % 2 * 120;
            int stripe = x % 2 * 60;
            byte r = (byte)Math.Clamp(x * 255 / w + random.Next(-20, 21), 0, 255);
            byte g = (byte)Math.Clamp(checker + y * 100 / h + random.Next(-30, 31), 0, 255);
            byte b = (byte)Math.Clamp(stripe + 128 * (1 + Math.Sin(x * 0.3 + y * 0.2)) / 2 + random.Next(0, 40), 0, 255);
            bitmap.SetPixel(x, y, new SKColor(r, g, b, alpha ? (byte)(40 + (x + y) % 200) : (byte)255));
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(path.EndsWith(".png", StringComparison.Ordinal) ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg, 90);
        File.WriteAllBytes(path, data.ToArray());
    }
}
