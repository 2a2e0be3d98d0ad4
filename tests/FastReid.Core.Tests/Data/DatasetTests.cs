using FastReid.Config;
using FastReid.Data;
using FastReid.Data.Datasets;
using FastReid.Data.Samplers;
using FastReid.Data.Synth;
using FastReid.Data.Transforms;

namespace FastReid.Core.Tests.Data;

/// <summary>A small synthetic Market-1501 set shared by the data tests (written once).</summary>
public sealed class SynthFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("synth-").FullName;

    public SynthFixture() =>
        SyntheticMarket.Write(Root, new SynthOptions(Identities: 12, Cameras: 3, Seed: 3, Width: 32, Height: 64, TrainImagesPerIdentity: 6,
            GalleryImagesPerIdentity: 4, QueriesPerIdentity: 2, Distractors: 5, Junk: 3));

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class DatasetTests(SynthFixture synth) : IClassFixture<SynthFixture>
{
    [Fact]
    public void Market_reader_follows_the_naming_rules()
    {
        var ds = DatasetRegistry.Load("Market1501", synth.Root);
        Assert.Equal(6 * 6, ds.Train.Count);
        Assert.Equal(6, ds.TrainIdentities);
        Assert.DoesNotContain(ds.Gallery, r => r.Pid == -1);          // junk is skipped
        Assert.Equal(5, ds.Gallery.Count(r => r.Pid == 0));            // distractors stay in the gallery
        Assert.All(ds.Train.Concat(ds.Query).Concat(ds.Gallery), r => Assert.InRange(r.CamId, 0, 2)); // 0-based
        Assert.Empty(ds.Train.Select(r => r.Pid).Intersect(ds.Query.Select(r => r.Pid)));
        var first = ds.Query[0];
        Assert.Equal(int.Parse(Path.GetFileName(first.Path)[..4]), first.Pid);
    }

    [Fact]
    public void Synthetic_sets_are_deterministic_for_a_seed()
    {
        var other = Directory.CreateTempSubdirectory("synth2-").FullName;
        try
        {
            SyntheticMarket.Write(other, new SynthOptions(Identities: 12, Cameras: 3, Seed: 3, Width: 32, Height: 64, TrainImagesPerIdentity: 6,
                GalleryImagesPerIdentity: 4, QueriesPerIdentity: 2, Distractors: 5, Junk: 3));
            var a = Directory.GetFiles(Path.Combine(synth.Root, SyntheticMarket.Folder, "query")).Order().ToArray();
            var b = Directory.GetFiles(Path.Combine(other, SyntheticMarket.Folder, "query")).Order().ToArray();
            Assert.Equal(a.Select(Path.GetFileName), b.Select(Path.GetFileName));
            Assert.Equal(File.ReadAllBytes(a[0]), File.ReadAllBytes(b[0]));
        }
        finally { Directory.Delete(other, true); }
    }

    [Fact]
    public void Missing_dataset_folder_and_empty_split_name_the_path()
    {
        var empty = Directory.CreateTempSubdirectory("empty-").FullName;
        try
        {
            var e = Assert.Throws<FastReidException>(() => DatasetRegistry.Load("Market1501", empty));
            Assert.Contains("Market-1501-v15.09.15", e.Message);
            var market = Path.Combine(empty, "Market-1501-v15.09.15");
            foreach (var split in new[] { "bounding_box_train", "query", "bounding_box_test" }) Directory.CreateDirectory(Path.Combine(market, split));
            var e2 = Assert.Throws<FastReidException>(() => DatasetRegistry.Load("Market1501", empty));
            Assert.Contains("bounding_box_train", e2.Message);
            Assert.Contains("no usable images", e2.Message);
            var e3 = Assert.Throws<FastReidException>(() => DatasetRegistry.Load("NoSuchSet", empty));
            Assert.Contains("unknown dataset 'NoSuchSet'", e3.Message);
        }
        finally { Directory.Delete(empty, true); }
    }

    [Fact]
    public void Corrupt_images_are_named()
    {
        var path = Path.Combine(Path.GetTempPath(), $"corrupt-{Guid.NewGuid():N}.jpg");
        File.WriteAllBytes(path, [0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02]);
        try
        {
            var e = Assert.Throws<FastReidException>(() => ImageDecoder.Decode(path, 64, 32));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Images_already_at_size_are_not_resampled()
    {
        var file = Directory.GetFiles(Path.Combine(synth.Root, SyntheticMarket.Folder, "query"))[0];
        var same = ImageDecoder.Decode(file, 64, 32);
        var resized = ImageDecoder.Decode(file, 32, 16);
        Assert.Equal(64 * 32 * 3, same.Length);
        Assert.Equal(32 * 16 * 3, resized.Length);
    }

    [Fact]
    public void Generic_folder_layout_reads_identity_folders_and_camera_prefixes()
    {
        var root = Directory.CreateTempSubdirectory("generic-").FullName;
        try
        {
            var src = Directory.GetFiles(Path.Combine(synth.Root, SyntheticMarket.Folder, "query"))[0];
            foreach (var (split, pid, cam) in new[] { ("train", 3, 0), ("train", 4, 1), ("query", 7, 0), ("gallery", 7, 2), ("gallery", -1, 1) })
            {
                var dir = Directory.CreateDirectory(Path.Combine(root, "MySet", split, pid.ToString())).FullName;
                File.Copy(src, Path.Combine(dir, $"{cam}_0001.jpg"));
            }
            var ds = DatasetRegistry.Load("MySet", root);
            Assert.Equal(2, ds.Train.Count);
            Assert.Single(ds.Gallery);
            Assert.Equal((7, 2), (ds.Gallery[0].Pid, ds.Gallery[0].CamId));
        }
        finally { Directory.Delete(root, true); }
    }
}

public sealed class SamplerTests
{
    private static readonly int[] Labels = Enumerable.Range(0, 10).SelectMany(pid => Enumerable.Repeat(pid, pid % 3 == 0 ? 2 : 7)).ToArray();

    [Fact]
    public void Naive_identity_sampler_gives_p_identities_times_k_images()
    {
        foreach (var batch in IdentitySamplers.NaiveIdentity(Labels, 16, 4, seed: 5).Take(20))
        {
            Assert.Equal(16, batch.Length);
            var groups = batch.Chunk(4).ToList();
            Assert.All(groups, g => Assert.Single(g.Select(i => Labels[i]).Distinct()));
            Assert.Equal(4, groups.Select(g => Labels[g[0]]).Distinct().Count());
        }
    }

    [Fact]
    public void Sampler_is_deterministic_per_seed_and_ranks_take_contiguous_slices()
    {
        var a = IdentitySamplers.NaiveIdentity(Labels, 16, 4, seed: 5).Take(5).ToList();
        var b = IdentitySamplers.NaiveIdentity(Labels, 16, 4, seed: 5).Take(5).ToList();
        var c = IdentitySamplers.NaiveIdentity(Labels, 16, 4, seed: 6).Take(5).ToList();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var r0 = IdentitySamplers.RankSlice(a[0], 0, 2);
        var r1 = IdentitySamplers.RankSlice(a[0], 1, 2);
        Assert.Equal(a[0], r0.Concat(r1));
    }

    [Fact]
    public void Impossible_batches_are_explained()
    {
        Assert.Contains("multiple of DATALOADER.NUM_INSTANCE",
            Assert.Throws<FastReidException>(() => IdentitySamplers.NaiveIdentity(Labels, 10, 4, 0).First()).Message);
        Assert.Contains("fewer than the 16",
            Assert.Throws<FastReidException>(() => IdentitySamplers.NaiveIdentity(Labels, 64, 4, 0).First()).Message);
    }

    [Fact]
    public void Augmentation_depends_only_on_its_seed()
    {
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(["INPUT.FLIP.ENABLED", "True", "INPUT.PADDING.ENABLED", "True", "INPUT.REA.ENABLED", "True", "INPUT.CJ.ENABLED", "True"]);
        var aug = new Augmenter(cfg);
        var rgb = Enumerable.Range(0, 16 * 8 * 3).Select(i => (byte)(i * 7 % 256)).ToArray();
        var x = new float[3 * 16 * 8];
        var y = new float[3 * 16 * 8];
        aug.Apply(rgb, 16, 8, x, new Random(11));
        aug.Apply(rgb, 16, 8, y, new Random(11));
        Assert.Equal(x, y);
        aug.Apply(rgb, 16, 8, y, new Random(12));
        Assert.NotEqual(x, y);
    }
}
