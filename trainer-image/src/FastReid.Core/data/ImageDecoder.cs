using System.Collections.Concurrent;
using SkiaSharp;

namespace FastReid.Data;

/// <summary>
/// Decodes PNG/JPEG files with SkiaSharp and resizes them (bicubic) to the model input size, returning
/// RGB bytes in HWC order. Resized images are cached in memory up to a byte budget, so small datasets
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
            decoded = SKBitmap.Decode(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FastReidException($"cannot read image '{path}': {e.Message}", e);
        }
        if (decoded is null) throw new FastReidException($"'{path}' is not a readable PNG or JPEG image (corrupt or unsupported)");
        using var source = decoded;
        using var rgba = source.ColorType == SKColorType.Rgba8888 && source.AlphaType != SKAlphaType.Premul
            ? source.Copy()
            : source.Copy(SKColorType.Rgba8888) ?? throw new FastReidException($"'{path}': cannot convert to RGB");
        SKBitmap sized = rgba;
        if (rgba.Width != width || rgba.Height != height)
        {
            sized = rgba.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul),
                new SKSamplingOptions(SKCubicResampler.CatmullRom))
                ?? throw new FastReidException($"'{path}': cannot resize to {width}x{height}");
        }
        try
        {
            var span = sized.GetPixelSpan();
            var rgb = new byte[height * width * 3];
            for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
            {
                rgb[j] = span[i];
                rgb[j + 1] = span[i + 1];
                rgb[j + 2] = span[i + 2];
            }
            return rgb;
        }
        finally
        {
            if (!ReferenceEquals(sized, rgba)) sized.Dispose();
        }
    }
}
