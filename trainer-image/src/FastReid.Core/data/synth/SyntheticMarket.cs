using SkiaSharp;

namespace FastReid.Data.Synth;

/// <summary>Options of <see cref="SyntheticMarket.Write"/>; identities are split half for training, half for testing.</summary>
public sealed record SynthOptions(
    int Identities = 120, int Cameras = 6, int Seed = 0, int Width = 64, int Height = 128,
    int TrainImagesPerIdentity = 16, int GalleryImagesPerIdentity = 8, int QueriesPerIdentity = 2,
    int Distractors = -1, int Junk = -1, int JpegQuality = 92);

/// <summary>What <see cref="SyntheticMarket.Write"/> produced.</summary>
public sealed record SynthSummary(string Root, int TrainImages, int QueryImages, int GalleryImages, int TrainIdentities, int TestIdentities);

/// <summary>
/// Writes a synthetic person-ReID set in the Market-1501 layout
/// (<c>OUT/Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}</c>) for tests and the demo.
/// Each identity has its own clothing colours, pattern, build, hair and bag; each camera its own
/// background, lighting, colour cast and blur, so matching across cameras has to be learned. The gallery
/// also holds 0000 distractors (people of no test identity, background crops) and -1 junk (partial
/// detections). Deterministic for a given seed.
/// </summary>
public static class SyntheticMarket
{
    public const string Folder = "Market-1501-v15.09.15";

    public static SynthSummary Write(string outDir, SynthOptions o, Action<string>? log = null)
    {
        Validate(o);
        var root = Path.Combine(outDir, Folder);
        var staging = root + ".partial";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        var trainDir = Directory.CreateDirectory(Path.Combine(staging, "bounding_box_train")).FullName;
        var queryDir = Directory.CreateDirectory(Path.Combine(staging, "query")).FullName;
        var galleryDir = Directory.CreateDirectory(Path.Combine(staging, "bounding_box_test")).FullName;

        var rng = new Random(o.Seed);
        var cameras = Enumerable.Range(0, o.Cameras).Select(c => CameraLook.Random(new Random(Hash(o.Seed, 7, c)))).ToArray();
        int trainIds = o.Identities / 2, testIds = o.Identities - trainIds;
        var jobs = new List<(string Path, int Pid, int Cam, Kind Kind)>();
        int frame = 0;
        for (int i = 0; i < o.Identities; i++)
        {
            int pid = i + 1;
            bool train = i < trainIds;
            var cams = Enumerable.Range(0, o.Cameras).OrderBy(_ => rng.Next()).Take(Math.Max(2, rng.Next(2, o.Cameras + 1))).ToArray();
            if (train)
            {
                for (int k = 0; k < o.TrainImagesPerIdentity; k++)
                    jobs.Add((Name(trainDir, pid, cams[k % cams.Length], ++frame), pid, cams[k % cams.Length], Kind.Person));
            }
            else
            {
                int queries = Math.Min(o.QueriesPerIdentity, cams.Length - 1);
                for (int q = 0; q < queries; q++)
                    jobs.Add((Name(queryDir, pid, cams[q], ++frame), pid, cams[q], Kind.Person));
                for (int k = 0; k < o.GalleryImagesPerIdentity; k++)
                {
                    // every query camera also sees the identity elsewhere: start the gallery at the next camera
                    int cam = cams[(k + 1) % cams.Length];
                    jobs.Add((Name(galleryDir, pid, cam, ++frame), pid, cam, Kind.Person));
                }
            }
        }
        int distractors = o.Distractors >= 0 ? o.Distractors : testIds;
        int junk = o.Junk >= 0 ? o.Junk : testIds / 2;
        for (int d = 0; d < distractors; d++)
        {
            int cam = rng.Next(o.Cameras);
            jobs.Add((Name(galleryDir, 0, cam, ++frame), 0, cam, d % 3 == 0 ? Kind.Background : Kind.Stranger));
        }
        for (int j = 0; j < junk; j++)
        {
            int cam = rng.Next(o.Cameras);
            jobs.Add((Name(galleryDir, -1, cam, ++frame), -1, cam, Kind.Partial));
        }

        int done = 0;
        Parallel.For(0, jobs.Count, n =>
        {
            var (path, pid, cam, kind) = jobs[n];
            var imageRng = new Random(Hash(o.Seed, 3, n));
            var person = kind switch
            {
                Kind.Person => Identity.Random(new Random(Hash(o.Seed, 1, pid))),
                _ => Identity.Random(new Random(Hash(o.Seed, 5, n))),
            };
            using var bitmap = Renderer.Draw(person, cameras[cam], kind, o.Width, o.Height, imageRng);
            using var image = SKImage.FromBitmap(bitmap);
            using var data = image.Encode(SKEncodedImageFormat.Jpeg, o.JpegQuality);
            File.WriteAllBytes(path, data.ToArray());
            if (Interlocked.Increment(ref done) % 500 == 0) log?.Invoke($"  {done}/{jobs.Count} images");
        });

        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.Move(staging, root);
        int Count(string sub) => Directory.GetFiles(Path.Combine(root, sub)).Length;
        return new SynthSummary(root, Count("bounding_box_train"), Count("query"), Count("bounding_box_test"), trainIds, testIds);
    }

    private static void Validate(SynthOptions o)
    {
        if (o.Identities < 4 || o.Identities > 1500) throw new FastReidException($"--identities must be in 4..1500 (got {o.Identities})");
        if (o.Cameras < 2 || o.Cameras > 6) throw new FastReidException($"--cameras must be in 2..6, as in Market-1501 (got {o.Cameras})");
        if (o.Width < 16 || o.Height < 32) throw new FastReidException($"image size {o.Width}x{o.Height} is too small (at least 16x32)");
        if (o.Width > Config.ConfigSchema.MaxSide || o.Height > Config.ConfigSchema.MaxSide)
            throw new FastReidException($"image size {o.Width}x{o.Height} is too large (at most {Config.ConfigSchema.MaxSide} a side, as INPUT.SIZE_TRAIN)");
        if (o.TrainImagesPerIdentity < 2) throw new FastReidException("--train-images must be at least 2");
        if (o.GalleryImagesPerIdentity < 1) throw new FastReidException("--gallery-images must be at least 1");
        if (o.QueriesPerIdentity < 1) throw new FastReidException("--queries must be at least 1");
    }

    private static string Name(string dir, int pid, int cam, int frame) =>
        Path.Combine(dir, pid < 0 ? $"-1_c{cam + 1}s1_{frame:D6}_00.jpg" : $"{pid:D4}_c{cam + 1}s1_{frame:D6}_00.jpg");

    internal static int Hash(int seed, int salt, int value) =>
        (int)((uint)(seed * 73856093) ^ (uint)(salt * 19349663) ^ (uint)(value * 83492791) ^ 0x5bd1e995u) & int.MaxValue;

    internal enum Kind { Person, Stranger, Background, Partial }
}
