using FastReid.Config;

namespace FastReid.Modeling.Backbones;

/// <summary>FastReID's <c>BACKBONE_REGISTRY</c>: <c>MODEL.BACKBONE.NAME</c> names the builder, as FastReID spells it.</summary>
public static class BackboneRegistry
{
    public static Registry<Func<FastReidConfig, Backbone>> Registry { get; } = new("MODEL.BACKBONE.NAME",
        [("build_resnet_backbone", ResNet.FromConfig)],
        new Dictionary<string, string>
        {
            ["build_osnet_backbone"] = "build_osnet_backbone is not supported yet",
            ["build_resnest_backbone"] = "build_resnest_backbone is not supported yet",
            ["build_resnext_backbone"] = "build_resnext_backbone is not supported yet",
            ["build_regnet_backbone"] = "build_regnet_backbone is not supported yet",
            ["build_effnet_backbone"] = "build_effnet_backbone is not supported yet",
            ["build_mobilenetv2_backbone"] = "build_mobilenetv2_backbone is not supported yet",
            ["build_vit_backbone"] = "build_vit_backbone is not supported yet",
        });

    public static Backbone Build(FastReidConfig cfg) => Registry.Get(cfg.String("MODEL.BACKBONE.NAME"))(cfg);
}
