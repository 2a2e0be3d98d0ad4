using System.Collections.Concurrent;
using SkiaSharp;

namespace FastReid.Data;

/// <summary>
/// Decodes PNG/JPEG files with SkiaSharp and resizes them to the model input size with PIL's bicubic
/// (<see cref="BicubicResampler"/>: FastReID's <c>T.Resize(size, interpolation=3)</c>, antialiased when
/// shrinking), returning RGB bytes in HWC order. Resized images are cached in memory up to a byte budget, so small datasets
/// are decoded once per run, not once per epoch.
/// </summary>
public sealed class ImageDecoder(int height, int width, long cacheBytes = 1L << 30)
{
    private readonly ConcurrentDictionary<string, byte[]> _cache = new(StringComparer.Ordinal);
    private long _cached;

    public int Height { get; } = height;
    public int Width { get; } = width;

    public byte[] Load(string path)
    {
        if (_cache.TryGetValue(path, out var hit)) return hit;
        var pixels = Decode(path, Height, Width);
        if (Interlocked.Add(ref _cached, pixels.Length) <= cacheBytes) _cache.TryAdd(path, pixels);
        else Interlocked.Add(ref _cached, -pixels.Length);
        return pixels;
    }

    /// <summary>RGB bytes [height, width, 3]; an image already at that size is not resampled.</summary>
    public static byte[] Decode(string path, int height, int width)
    {
        SKBitmap? decoded;
        try
        {
            using var stream = File.OpenRead(path);
            using var codec = SKCodec.Create(stream);
            // straight (unpremultiplied) RGBA, decoded so: PIL's convert("RGB") keeps a translucent pixel's
            // colour and drops its alpha, where a premultiplied decode would darken it
            decoded = codec is null ? null : SKBitmap.Decode(codec, codec.Info.WithColorType(SKColorType.Rgba8888)
                .WithAlphaType(codec.Info.AlphaType == SKAlphaType.Opaque ? SKAlphaType.Opaque : SKAlphaType.Unpremul));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FastReidException($"cannot read image '{path}': {e.Message}", e);
        }
        if (decoded is null) throw new FastReidException($"'{path}' is not a readable PNG or JPEG image (corrupt or unsupported)");
        using var rgba = decoded;
        var span = rgba.GetPixelSpan();
        if (rgba.Width != width || rgba.Height != height)
            return BicubicResampler.Resize(span, rgba.Width, rgba.Height, rgba.RowBytes, 4, width, height);
        var rgb = new byte[height * width * 3];
        for (int y = 0, j = 0; y < height; y++)
        for (int i = y * rgba.RowBytes, end = i + width * 4; i < end; i += 4, j += 3)
        {
            rgb[j] = span[i];
            rgb[j + 1] = span[i + 1];
            rgb[j + 2] = span[i + 2];
        }
        return rgb;
    }
}
