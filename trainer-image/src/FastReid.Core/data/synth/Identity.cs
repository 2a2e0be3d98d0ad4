using SkiaSharp;

namespace FastReid.Data.Synth;

/// <summary>What makes a synthetic person recognisable across cameras.</summary>
internal sealed record Identity(
    SKColor Shirt, SKColor Pants, SKColor Shoes, SKColor Skin, SKColor Hair, SKColor Accent,
    int Pattern, bool LongSleeves, int Bag, SKColor BagColor, bool Hat, float Build, float Height, float HairLength)
{
    public static Identity Random(Random r) => new(
        Shirt: Hsv(r, 0.15f, 0.95f), Pants: Hsv(r, 0.05f, 0.75f), Shoes: Hsv(r, 0f, 0.4f),
        Skin: SkinTones[r.Next(SkinTones.Length)], Hair: HairColors[r.Next(HairColors.Length)], Accent: Hsv(r, 0.4f, 1f),
        Pattern: r.Next(5), LongSleeves: r.Next(2) == 0, Bag: r.Next(4), BagColor: Hsv(r, 0.1f, 0.8f),
        Hat: r.Next(5) == 0, Build: 0.8f + 0.35f * r.NextSingle(), Height: 0.86f + 0.12f * r.NextSingle(),
        HairLength: r.NextSingle());

    private static readonly SKColor[] SkinTones =
        [new(255, 224, 196), new(234, 192, 160), new(198, 145, 110), new(141, 98, 70), new(92, 60, 43)];

    private static readonly SKColor[] HairColors =
        [new(20, 16, 14), new(70, 45, 30), new(130, 90, 50), new(200, 170, 110), new(150, 150, 150), new(110, 30, 20)];

    private static SKColor Hsv(Random r, float minV, float maxV) =>
        SKColor.FromHsv(360f * r.NextSingle(), 25f + 75f * r.NextSingle(), 100f * (minV + (maxV - minV) * r.NextSingle()));
}

/// <summary>How one camera sees everything: background, lighting, colour cast, blur and viewpoint.</summary>
internal sealed record CameraLook(SKColor Ground, SKColor Wall, float Gain, float CastR, float CastG, float CastB, float Blur, float Scale, int Clutter, int Seed)
{
    public static CameraLook Random(Random r) => new(
        Ground: SKColor.FromHsv(360f * r.NextSingle(), 10f + 30f * r.NextSingle(), 25f + 50f * r.NextSingle()),
        Wall: SKColor.FromHsv(360f * r.NextSingle(), 10f + 40f * r.NextSingle(), 30f + 60f * r.NextSingle()),
        Gain: 0.7f + 0.6f * r.NextSingle(),
        CastR: -20 + 40 * r.NextSingle(), CastG: -20 + 40 * r.NextSingle(), CastB: -20 + 40 * r.NextSingle(),
        Blur: r.NextSingle() < 0.4f ? 0.4f + 0.8f * r.NextSingle() : 0f,
        Scale: 0.85f + 0.2f * r.NextSingle(), Clutter: r.Next(2, 7), Seed: r.Next());

    public SKColor Apply(SKColor c) => new(
        Clamp(c.Red * Gain + CastR), Clamp(c.Green * Gain + CastG), Clamp(c.Blue * Gain + CastB));

    private static byte Clamp(float v) => (byte)Math.Clamp((int)MathF.Round(v), 0, 255);
}
