using FastReid.Config;
using FastReid.Data;
using FastReid.Data.Synth;
using FastReid.Engine;

namespace FastReid.Core.Tests.Data;

/// <summary>
/// DATASETS.VALIDATION.IDENTITY_FRACTION: whole training identities held out as a query/gallery split, the same ones
/// whatever the file order, every query with a gallery match in another camera, and the test set never read.
/// </summary>
public sealed class ValidationSplitTests
{
    /// <summary>
    /// 20 identities of one dataset: identity p has p % 4 + 2 cameras with (p + c) % 3 + 1 images each, except 19 and 20,
    /// seen by one camera only (never eligible), and 17 and 18, each camera with a single image (the demotion case).
    /// </summary>
    private static List<ImageRecord> Records(string dataset = "Market1501")
    {
        var records = new List<ImageRecord>();
        for (int pid = 1; pid <= 20; pid++)
        {
            int cameras = pid >= 19 ? 1 : pid % 4 + 2;
            for (int cam = 0; cam < cameras; cam++)
            {
                int images = pid is 17 or 18 ? 1 : (pid + cam) % 3 + 1;
                if (pid >= 19) images = 3;
                for (int i = 0; i < images; i++)
                    records.Add(new ImageRecord($"/data/{dataset}/{pid:D4}_c{cam + 1}s1_{i:D6}_00.jpg", pid, cam, dataset));
            }
        }
        return records;
    }

    private static FastReidConfig Config(params string[] overrides)
    {
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(overrides);
        return cfg;
    }

    [Fact]
    public void The_split_depends_on_the_validation_seed_only_not_on_the_file_order()
    {
        var records = Records();
        var a = ValidationSplit.Hold(records, 0.25, seed: 7);
        var shuffled = records.OrderBy(r => r.Path.GetHashCode(StringComparison.Ordinal)).Reverse().ToList();
        var b = ValidationSplit.Hold(shuffled, 0.25, seed: 7);
        Assert.Equal(5, a.HeldOut.Count); // round(0.25 x 20)
        Assert.Equal(a.HeldOut, b.HeldOut);
        Assert.Equal(a.Validation.Query.Select(r => r.Path), b.Validation.Query.Select(r => r.Path));
        Assert.Equal(a.Validation.Gallery.Select(r => r.Path), b.Validation.Gallery.Select(r => r.Path));
        Assert.Equal(a.Train.Select(r => r.Path).Order(StringComparer.Ordinal), b.Train.Select(r => r.Path).Order(StringComparer.Ordinal));

        // another validation seed holds out other identities (over a few seeds at least one differs)
        Assert.Contains(Enumerable.Range(8, 5), s => !ValidationSplit.Hold(records, 0.25, s).HeldOut.SequenceEqual(a.HeldOut));
    }

    [Fact]
    public void Whole_identities_are_held_out_and_none_is_left_in_training()
    {
        var records = Records();
        for (int seed = 0; seed < 10; seed++)
        {
            var split = ValidationSplit.Hold(records, 0.4, seed);
            var held = split.HeldOut.Select(h => h.Pid).ToHashSet();
            Assert.Equal(8, held.Count);
            Assert.DoesNotContain(split.Train, r => held.Contains(r.Pid));
            // every image of a held-out identity is in the validation set, exactly once
            var validation = split.Validation.Query.Concat(split.Validation.Gallery).Select(r => r.Path).ToList();
            Assert.Equal(records.Where(r => held.Contains(r.Pid)).Select(r => r.Path).Order(StringComparer.Ordinal), validation.Order(StringComparer.Ordinal));
            Assert.Equal(records.Count, split.Train.Count + validation.Count);
            Assert.DoesNotContain(19, held); // a single camera: no query could be matched
            Assert.DoesNotContain(20, held);
            Assert.Empty(split.Validation.Train);
        }
    }

    [Fact]
    public void Every_query_has_a_gallery_match_in_another_camera()
    {
        var records = Records();
        for (int seed = 0; seed < 20; seed++)
        {
            var split = ValidationSplit.Hold(records, 0.5, seed);
            foreach (var q in split.Validation.Query)
                Assert.Contains(split.Validation.Gallery, g => g.Pid == q.Pid && g.CamId != q.CamId);
            // every held-out identity is queried, at most once per camera, by the first image of that camera
            foreach (var (_, pid) in split.HeldOut)
            {
                var queries = split.Validation.Query.Where(q => q.Pid == pid).ToList();
                Assert.NotEmpty(queries);
                Assert.Equal(queries.Count, queries.Select(q => q.CamId).Distinct().Count());
                foreach (var q in queries)
                    Assert.Equal(records.Where(r => r.Pid == pid && r.CamId == q.CamId).Select(r => r.Path).Min(StringComparer.Ordinal), q.Path);
            }
        }
        // identity 17 has one image per camera: one of them is the gallery, the others query it
        var all = ValidationSplit.Hold(records, 0.9, seed: 0);
        Assert.Contains(all.HeldOut, h => h.Pid == 17);
        Assert.Single(all.Validation.Gallery, g => g.Pid == 17);
        Assert.Equal(17 % 4 + 2 - 1, all.Validation.Query.Count(q => q.Pid == 17));
    }

    [Fact]
    public void Identities_of_different_datasets_are_different_people()
    {
        var records = Records("Market1501").Concat(Records("DukeMTMC")).ToList();
        var split = ValidationSplit.Hold(records, 0.25, seed: 3);
        Assert.Equal(10, split.HeldOut.Count);
        Assert.Equal(40, split.TrainingIdentities);
        foreach (var (dataset, pid) in split.HeldOut)
        {
            Assert.DoesNotContain(split.Train, r => r.Dataset == dataset && r.Pid == pid);
            Assert.Contains(split.Validation.Query, r => r.Dataset == dataset && r.Pid == pid);
        }
    }

    [Theory]
    [InlineData(1.0, "must be at least 0 (0 = off) and below 1, got 1")]
    [InlineData(-0.1, "must be at least 0 (0 = off) and below 1, got -0.1")]
    [InlineData(double.NaN, "must be at least 0 (0 = off) and below 1, got NaN")]
    [InlineData(0.05, "0.05 of 20 training identities holds out 1; a validation split needs at least 2 identities: raise it to at least 0.075")]
    [InlineData(0.95, "0.95 of 20 training identities holds out 19, leaving 1 to train on; training needs at least 2")]
    [InlineData(0.9, "0.9 of 20 training identities holds out 18, but only 17 of them are seen by at least 2 cameras")]
    public void Fractions_that_cannot_make_a_split_are_refused_naming_the_key_and_the_numbers(double fraction, string expected)
    {
        var records = Records();
        if (fraction == 0.9) records.RemoveAll(r => r.Pid == 18 && r.CamId > 0); // 17 identities with 2+ cameras remain of 20
        var e = Assert.Throws<ConfigException>(() => ValidationSplit.Hold(records, fraction, seed: 0));
        Assert.Equal(ValidationSplit.FractionKey, e.Key);
        Assert.StartsWith(ValidationSplit.FractionKey, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_training_set_too_small_for_any_split_says_so()
    {
        var three = Records().Where(r => r.Pid <= 3).ToList();
        var e = Assert.Throws<ConfigException>(() => ValidationSplit.Hold(three, 0.5, seed: 0));
        Assert.Contains("needs at least 2 held-out identities and 2 left to train, and the training set has 3", e.Message);
    }

    [Fact]
    public void Fraction_zero_is_off_and_the_config_is_read()
    {
        Assert.Null(ValidationSplit.FromConfig(Config(), Records()));
        var split = ValidationSplit.FromConfig(Config("DATASETS.VALIDATION.IDENTITY_FRACTION", "0.25", "DATASETS.VALIDATION.SEED", "7"), Records())!;
        Assert.Equal(ValidationSplit.Hold(Records(), 0.25, 7).HeldOut, split.HeldOut);
        Assert.Throws<ConfigException>(() => ValidationSplit.FromConfig(Config("DATASETS.VALIDATION.IDENTITY_FRACTION", "1.5"), Records()));
        Assert.StartsWith("evaluating on 5 validation identities (", split.Describe());
        Assert.Contains("gallery images), not the test set", split.Describe());
    }

    [Fact]
    public void With_a_validation_split_the_test_folders_are_never_read()
    {
        var root = Directory.CreateTempSubdirectory("valsplit-").FullName;
        try
        {
            SyntheticMarket.Write(root, new SynthOptions(Identities: 16, Cameras: 3, Seed: 5, Width: 32, Height: 64, TrainImagesPerIdentity: 4,
                GalleryImagesPerIdentity: 2, QueriesPerIdentity: 1, Distractors: 0, Junk: 0));
            var market = Path.Combine(root, SyntheticMarket.Folder);
            Directory.Delete(Path.Combine(market, "query"), recursive: true);
            Directory.Delete(Path.Combine(market, "bounding_box_test"), recursive: true);

            var data = DataBuilder.BuildForTraining(Config("DATASETS.VALIDATION.IDENTITY_FRACTION", "0.25"), root);
            Assert.Equal("validation", data.EvaluatedOn);
            Assert.Equal(2, data.Validation!.HeldOut.Count);    // round(0.25 x 8 training identities)
            Assert.Equal(6, data.Train.NumClasses);             // the remaining ones, relabelled 0..5
            Assert.Equal(Enumerable.Range(0, 6), data.Train.Labels.Distinct().Order());
            Assert.Same(data.Validation.Validation, Assert.Single(data.Evaluation));

            // without the split the same data needs its test folders
            var e = Assert.Throws<FastReidException>(() => DataBuilder.BuildForTraining(Config(), root));
            Assert.Contains("query", e.Message);
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void A_generic_folder_dataset_needs_only_its_train_folder()
    {
        var root = Directory.CreateTempSubdirectory("valsplit-folder-").FullName;
        try
        {
            // MySet/train/PID/CAMID_n.jpg, no query/ or gallery/ (the split reads names, not pixels)
            for (int pid = 1; pid <= 6; pid++)
                foreach (var name in new[] { "0_0001.jpg", "0_0002.jpg", "1_0003.jpg", "1_0004.jpg" })
                    File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(Path.Combine(root, "MySet", "train", $"{pid}")).FullName, name), []);
            var cfg = Config("DATASETS.NAMES", "('MySet',)", "DATASETS.TESTS", "('MySet',)", "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.34");
            var data = DataBuilder.BuildForTraining(cfg, root);
            Assert.Equal(2, data.Validation!.HeldOut.Count);
            Assert.Equal(4, data.Train.NumClasses);
            Assert.Equal(4, data.Validation.Validation.Query.Count);   // cameras 0 and 1 of each held-out identity
            Assert.All(data.Validation.Validation.Query, q => Assert.Contains(Path.GetFileName(q.Path), new[] { "0_0001.jpg", "1_0003.jpg" }));
            Assert.Equal(4, data.Validation.Validation.Gallery.Count);
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void A_resume_with_another_fraction_or_validation_seed_is_refused()
    {
        var trained = Config("SEED", "1", "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.2", "DATASETS.VALIDATION.SEED", "3");
        var checkpoint = new TrainerState(TrainerState.CurrentFormat, 2, 20, 20, 1, "", null, 0, null, null, Config: ResumeCheck.Record(trained));
        Assert.Empty(ResumeCheck.Compare(checkpoint, trained, seed: 1, seedWasPicked: false).Refused);
        var fraction = ResumeCheck.Compare(checkpoint, Config("SEED", "1", "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.3", "DATASETS.VALIDATION.SEED", "3"), 1, false);
        Assert.Equal(new ConfigChange("DATASETS.VALIDATION.IDENTITY_FRACTION", "0.2", "0.3"), Assert.Single(fraction.Refused));
        var seed = ResumeCheck.Compare(checkpoint, Config("SEED", "1", "DATASETS.VALIDATION.IDENTITY_FRACTION", "0.2", "DATASETS.VALIDATION.SEED", "4"), 1, false);
        Assert.Equal("DATASETS.VALIDATION.SEED", Assert.Single(seed.Refused).Key);
    }
}
