using FastReid.Config;
using FastReid.Modeling.Backbones;
using FastReid.Modeling.Heads;
using FastReid.Modeling.Losses;
using FastReid.Modeling.MetaArch;

namespace FastReid.Core.Tests.Modeling;

/// <summary>Components are chosen by name through registries; a bad name says which key, which value, and what exists.</summary>
public sealed class RegistryTests
{
    // SetValue bypasses the schema's allowed values, as a config with a name the schema admits but no registry holds would
    private static FastReidException Build(string key, object value)
    {
        var cfg = ModelTests.TinyConfig();
        cfg.SetValue(key, value);
        return Assert.Throws<FastReidException>(() => MetaArchRegistry.Build(cfg, 4).Dispose());
    }

    [Theory]
    [InlineData("MODEL.META_ARCHITECTURE", "Baselin", "Baseline, Distiller, DistillerOverhaul")]
    [InlineData("MODEL.BACKBONE.NAME", "build_resnet", "build_resnet_backbone")]
    [InlineData("MODEL.HEADS.NAME", "EmbedHead", "EmbeddingHead")]
    public void An_unknown_name_names_the_key_the_value_and_the_known_names(string key, string bad, string known)
    {
        var e = Build(key, bad);
        Assert.Equal($"{key}: unknown name '{bad}' (known: {known})", e.Message);
    }

    [Fact]
    public void An_unknown_loss_lists_every_known_loss()
    {
        var e = Build("MODEL.LOSSES.NAME", new[] { "CrossEntropyLoss", "ArcLoss" });
        Assert.Equal("MODEL.LOSSES.NAME: unknown name 'ArcLoss' (known: CrossEntropyLoss, TripletLoss, CircleLoss, Cosface)", e.Message);
    }

    [Theory]
    [InlineData("MODEL.LOSSES.NAME", "FocalLoss")]
    [InlineData("MODEL.META_ARCHITECTURE", "MGN")]
    [InlineData("MODEL.BACKBONE.NAME", "build_osnet_backbone")]
    public void FastReID_names_we_lack_are_not_supported_yet_rather_than_unknown(string key, string name)
    {
        object value = key == "MODEL.LOSSES.NAME" ? new[] { name } : name;
        Assert.Equal($"{key}: {name} is not supported yet", Build(key, value).Message);
    }

    [Fact]
    public void The_schema_admits_exactly_the_registered_names()
    {
        // the operator validates spec.config with the schema alone (no torch): it must not drift from the registries
        Assert.Equal(MetaArchRegistry.Registry.Names, ConfigSchema.Find("MODEL.META_ARCHITECTURE")!.Allowed);
        Assert.Equal(BackboneRegistry.Registry.Names, ConfigSchema.Find("MODEL.BACKBONE.NAME")!.Allowed);
        Assert.Equal(HeadRegistry.Registry.Names, ConfigSchema.Find("MODEL.HEADS.NAME")!.Allowed);
        Assert.Equal(LossRegistry.Registry.Names, ConfigSchema.Find("MODEL.LOSSES.NAME")!.Allowed);
    }

    [Fact]
    public void Loss_terms_come_in_registration_order_whatever_the_config_order()
    {
        // the step sums the terms in this order; another order would be another float sum
        var cfg = ModelTests.TinyConfig("MODEL.LOSSES.NAME", "('Cosface','TripletLoss','CrossEntropyLoss')");
        Assert.Equal(["loss_cls", "loss_triplet", "loss_cosface"], LossRegistry.Build(cfg).Select(t => t.Name));
    }
}
