using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Storage;

/// <summary>A printer column as a CRD declares it (additionalPrinterColumns) or as we hard-code it for built-ins.</summary>
internal sealed record PrinterColumn(string Name, string Type, string JsonPath, string Description = "", int Priority = 0, string Format = "");

/// <summary>
/// One served group/version/resource. Built-in kinds and CRD versions share this shape; objects are
/// stored once per <see cref="StorageKey"/>, so every served version of a CRD sees the same objects
/// (the emulator does no conversion: CRDs we test with use strategy None).
/// </summary>
internal sealed record ResourceType(
    string Group,
    string Version,
    string Plural,
    string Singular,
    string Kind,
    bool Namespaced,
    IReadOnlyList<string> ShortNames,
    IReadOnlyList<string> Categories,
    bool HasStatusSubresource,
    bool TracksGeneration,
    bool AllowUnconditionalUpdate = true,
    JsonObject? Schema = null,
    IReadOnlyList<PrinterColumn>? PrinterColumns = null,
    bool IsCustom = false)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public string GroupVersion => ApiVersion;
    public string StorageKey => $"{Group}/{Plural}";
    public string ListKind => Kind + "List";

    public static readonly string[] AllVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
}
