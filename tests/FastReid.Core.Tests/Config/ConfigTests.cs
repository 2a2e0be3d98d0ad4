using FastReid.Config;

namespace FastReid.Core.Tests.Config;

public sealed class ConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string relative, string text)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Defaults_are_fastreids()
    {
        var cfg = FastReidConfig.Defaults();
        Assert.Equal("50x", cfg.String("MODEL.BACKBONE.DEPTH"));
        Assert.Equal(["CrossEntropyLoss"], cfg.Strings("MODEL.LOSSES.NAME"));
        Assert.Equal([256, 128], cfg.Ints("INPUT.SIZE_TRAIN"));
        Assert.Equal(3e-4, cfg.Float("SOLVER.BASE_LR"));
        Assert.Equal([30, 55], cfg.Ints("SOLVER.STEPS"));
        Assert.Equal(123.675, cfg.Floats("MODEL.PIXEL_MEAN")[0], 6);
    }

    [Fact]
    public void Base_chain_resolves_relative_to_each_file_and_later_layers_win()
    {
        Write("Base.yml", "MODEL:\n  BACKBONE:\n    DEPTH: 34x\nSOLVER:\n  BASE_LR: 0.01\n  MAX_EPOCH: 7\n");
        Write("sub/Mid.yml", "_BASE_: ../Base.yml\nSOLVER:\n  BASE_LR: 0.02\n");
        var leaf = Write("sub/deeper/Leaf.yml", "_BASE_: ../Mid.yml\nDATASETS:\n  NAMES: (\"DukeMTMC\",)\n");
        var cfg = ConfigLoader.Load(leaf, ["SOLVER.MAX_EPOCH", "9", "DATASETS.TESTS", "('Market1501', 'DukeMTMC')"]);
        Assert.Equal("34x", cfg.String("MODEL.BACKBONE.DEPTH"));
        Assert.Equal(0.02, cfg.Float("SOLVER.BASE_LR"));
        Assert.Equal(9, cfg.Int("SOLVER.MAX_EPOCH"));
        Assert.Equal(["DukeMTMC"], cfg.Strings("DATASETS.NAMES"));
        Assert.Equal(["Market1501", "DukeMTMC"], cfg.Strings("DATASETS.TESTS"));
    }

    [Fact]
    public void Unknown_key_names_the_key_the_file_and_the_closest_valid_key()
    {
        var path = Write("bad.yml", "SOLVER:\n  BASE_LRR: 0.1\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains("SOLVER.BASE_LRR", e.Message);
        Assert.Contains("SOLVER.BASE_LR?", e.Message);
        Assert.Contains("bad.yml", e.Message);
        var o = Assert.Throws<ConfigException>(() => FastReidConfig.Defaults().ApplyOverrides(["MODEL.BACKBONE.DEPHT", "18x"]));
        Assert.Contains("did you mean MODEL.BACKBONE.DEPTH?", o.Message);
        Assert.Contains("command line", o.Message);
    }

    [Theory]
    [InlineData("SOLVER.MAX_EPOCH", "ten", "expected an integer")]
    [InlineData("SOLVER.BASE_LR", "fast", "expected a number")]
    [InlineData("INPUT.FLIP.ENABLED", "maybe", "expected True or False")]
    [InlineData("SOLVER.OPT", "Adagrad", "not one of")]
    [InlineData("SOLVER.STEPS", "(10, x)", "expected an integer")]
    public void Wrong_type_names_the_key(string key, string value, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => FastReidConfig.Defaults().ApplyOverrides([key, value]));
        Assert.Contains(key, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Fastreid_keys_we_do_not_support_yet_are_refused_unless_left_at_their_default()
    {
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(["INPUT.AUTOAUG.ENABLED", "False"]);
        var e = Assert.Throws<ConfigException>(() => cfg.ApplyOverrides(["INPUT.AUTOAUG.ENABLED", "True"]));
        Assert.Contains("does not support yet", e.Message);
        Assert.Contains("INPUT.AUTOAUG.ENABLED", e.Message);
    }

    [Fact]
    public void Overrides_come_in_pairs()
    {
        var e = Assert.Throws<ConfigException>(() => FastReidConfig.Defaults().ApplyOverrides(["SOLVER.MAX_EPOCH"]));
        Assert.Contains("KEY VALUE pairs", e.Message);
    }

    [Fact]
    public void A_group_is_not_a_key_and_a_key_is_not_a_group()
    {
        Assert.Contains("group of keys", Assert.Throws<ConfigException>(() => FastReidConfig.Defaults().ApplyOverrides(["MODEL.BACKBONE", "x"])).Message);
        var path = Write("g.yml", "SOLVER:\n  BASE_LR:\n    X: 1\n");
        Assert.Contains("takes a value, not a mapping", Assert.Throws<ConfigException>(() => ConfigLoader.Load(path)).Message);
    }

    [Fact]
    public void Effective_config_round_trips_through_yaml()
    {
        var cfg = FastReidConfig.Defaults();
        cfg.ApplyOverrides(["SOLVER.ETA_MIN_LR", "1e-7", "DATASETS.NAMES", "('Market1501','DukeMTMC')", "OUTPUT_DIR", "it's/here", "SOLVER.STEPS", "[3, 4]"]);
        var path = Write("effective.yml", cfg.ToYaml());
        var again = ConfigLoader.Load(path);
        Assert.Equal(cfg.ToYaml(), again.ToYaml());
        Assert.Contains("ETA_MIN_LR: 1.0e-07", cfg.ToYaml()); // PyYAML needs the dot to read a float
    }

    [Fact]
    public void Missing_base_and_loops_are_reported_with_the_file()
    {
        var a = Write("a.yml", "_BASE_: b.yml\n");
        Write("b.yml", "_BASE_: a.yml\n");
        Assert.Contains("loops back", Assert.Throws<ConfigException>(() => ConfigLoader.Load(a)).Message);
        var c = Write("c.yml", "_BASE_: nowhere.yml\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(c));
        Assert.Contains("nowhere.yml", e.Message);
        Assert.Contains("c.yml", e.Message);
    }

    [Fact]
    public void Yaml_syntax_errors_give_the_line()
    {
        var path = Write("broken.yml", "SOLVER:\n  BASE_LR: [1, 2\n");
        Assert.Contains("line", Assert.Throws<ConfigException>(() => ConfigLoader.Load(path)).Message);
    }

    [Theory]
    [InlineData("Base-bagtricks.yml")]
    [InlineData("Market1501/bagtricks_R50.yml")]
    [InlineData("Synthetic/bagtricks_R18-cpu.yml")]
    public void Shipped_configs_load(string relative)
    {
        var cfg = ConfigLoader.Load(Path.Combine(TestPaths.Configs, relative));
        Assert.Equal(["CrossEntropyLoss", "TripletLoss"], cfg.Strings("MODEL.LOSSES.NAME"));
        Assert.True(cfg.Bool("MODEL.HEADS.WITH_BNNECK"));
        Assert.Equal("NaiveIdentitySampler", cfg.String("DATALOADER.SAMPLER_TRAIN"));
    }

    [Fact]
    public void Spec_config_json_trees_validate_with_the_same_schema()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse("""{"SOLVER": {"BASE_LR": 0.001, "STEPS": [5, 8]}, "MODEL": {"BACKBONE": {"WITH_IBN": true}}}""");
        var cfg = FastReidConfig.Defaults();
        cfg.MergeTree(ConfigTree.FromJson(json, "spec.config"), "spec.config");
        Assert.Equal(0.001, cfg.Float("SOLVER.BASE_LR"));
        Assert.Equal([5, 8], cfg.Ints("SOLVER.STEPS"));
        Assert.True(cfg.Bool("MODEL.BACKBONE.WITH_IBN"));
        var bad = System.Text.Json.Nodes.JsonNode.Parse("""{"SOLVER": {"MAX_EPOCHS": 3}}""");
        var e = Assert.Throws<ConfigException>(() => FastReidConfig.Defaults().MergeTree(ConfigTree.FromJson(bad, "spec.config"), "spec.config"));
        Assert.Equal("SOLVER.MAX_EPOCHS", e.Key);
        Assert.Contains("SOLVER.MAX_EPOCH?", e.Message);
    }
}
