using FastReid.Config;

namespace FastReid.Data.Transforms;

/// <summary>
/// FastReID's training transforms in its order — flip, pad + random crop, colour jitter, then random
/// erasing — on a CHW float image in 0–255 (normalisation happens inside the model, as in FastReID).
/// Every random draw comes from the <see cref="Random"/> passed in, so a sample's augmentation depends
/// only on the seed it was given, never on which worker thread ran it.
/// </summary>
public sealed class Augmenter
{
    private readonly bool _flip, _pad, _jitter, _erase;
    private readonly double _flipProb, _jitterProb, _eraseProb, _brightness, _contrast, _saturation, _hue;
    private readonly int _padSize;
    private readonly float[] _eraseValue;

    public Augmenter(FastReidConfig cfg)
    {
        _flip = cfg.Bool("INPUT.FLIP.ENABLED");
        _flipProb = cfg.Float("INPUT.FLIP.PROB");
        _pad = cfg.Bool("INPUT.PADDING.ENABLED");
        _padSize = cfg.Int("INPUT.PADDING.SIZE");
        _jitter = cfg.Bool("INPUT.CJ.ENABLED");
        _jitterProb = cfg.Float("INPUT.CJ.PROB");
        _brightness = cfg.Float("INPUT.CJ.BRIGHTNESS");
        _contrast = cfg.Float("INPUT.CJ.CONTRAST");
        _saturation = cfg.Float("INPUT.CJ.SATURATION");
        _hue = cfg.Float("INPUT.CJ.HUE");
        _erase = cfg.Bool("INPUT.REA.ENABLED");
        _eraseProb = cfg.Float("INPUT.REA.PROB");
        _eraseValue = cfg.Floats("INPUT.REA.VALUE").Select(v => (float)v).ToArray();
        if (_eraseValue.Length != 3) throw new ConfigException($"INPUT.REA.VALUE needs 3 values (RGB), got {_eraseValue.Length}", "INPUT.REA.VALUE");
    }

    /// <summary>Writes the augmented image of <paramref name="rgb"/> (HWC bytes) into <paramref name="chw"/>.</summary>
    public void Apply(byte[] rgb, int h, int w, Span<float> chw, Random r)
    {
        bool flip = _flip && r.NextDouble() < _flipProb;
        int offX = 0, offY = 0;
        if (_pad)
        {
            offX = r.Next(0, 2 * _padSize + 1) - _padSize;
            offY = r.Next(0, 2 * _padSize + 1) - _padSize;
        }
        int plane = h * w;
        for (int y = 0; y < h; y++)
        {
            int sy = y + offY;
            for (int x = 0; x < w; x++)
            {
                int sx = x + offX;
                if (flip) sx = w - 1 - sx;
                int o = y * w + x;
                if ((uint)sy >= (uint)h || (uint)sx >= (uint)w)
                {
                    chw[o] = chw[plane + o] = chw[2 * plane + o] = 0f; // constant padding
                    continue;
                }
                int s = (sy * w + sx) * 3;
                chw[o] = rgb[s];
                chw[plane + o] = rgb[s + 1];
                chw[2 * plane + o] = rgb[s + 2];
            }
        }
        if (_jitter && r.NextDouble() < _jitterProb) Jitter(chw, plane, r);
        if (_erase && r.NextDouble() < _eraseProb) Erase(chw, h, w, r);
    }

    /// <summary>Plain conversion (test time): HWC bytes to CHW floats, optionally mirrored.</summary>
    public static void ToChw(byte[] rgb, int h, int w, Span<float> chw, bool mirror = false)
    {
        int plane = h * w;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int s = (y * w + (mirror ? w - 1 - x : x)) * 3, o = y * w + x;
                chw[o] = rgb[s];
                chw[plane + o] = rgb[s + 1];
                chw[2 * plane + o] = rgb[s + 2];
            }
    }

    private void Jitter(Span<float> chw, int plane, Random r)
    {
        float b = (float)(1 + (r.NextDouble() * 2 - 1) * _brightness);
        float c = (float)(1 + (r.NextDouble() * 2 - 1) * _contrast);
        float s = (float)(1 + (r.NextDouble() * 2 - 1) * _saturation);
        float hShift = (float)((r.NextDouble() * 2 - 1) * _hue);
        double meanGray = 0;
        for (int i = 0; i < plane; i++) meanGray += 0.299 * chw[i] + 0.587 * chw[plane + i] + 0.114 * chw[2 * plane + i];
        float m = (float)(meanGray / plane) * b;
        // hue: rotate the chroma plane of YIQ by 2π·shift
        float cos = MathF.Cos(2 * MathF.PI * hShift), sin = MathF.Sin(2 * MathF.PI * hShift);
        for (int i = 0; i < plane; i++)
        {
            float R = chw[i] * b, G = chw[plane + i] * b, B = chw[2 * plane + i] * b;
            R = (R - m) * c + m; G = (G - m) * c + m; B = (B - m) * c + m;
            float gray = 0.299f * R + 0.587f * G + 0.114f * B;
            R = (R - gray) * s + gray; G = (G - gray) * s + gray; B = (B - gray) * s + gray;
            if (hShift != 0)
            {
                float Y = 0.299f * R + 0.587f * G + 0.114f * B;
                float I = 0.596f * R - 0.274f * G - 0.322f * B;
                float Q = 0.211f * R - 0.523f * G + 0.312f * B;
                float I2 = I * cos - Q * sin, Q2 = I * sin + Q * cos;
                R = Y + 0.956f * I2 + 0.621f * Q2;
                G = Y - 0.272f * I2 - 0.647f * Q2;
                B = Y - 1.106f * I2 + 1.703f * Q2;
            }
            chw[i] = Math.Clamp(R, 0f, 255f);
            chw[plane + i] = Math.Clamp(G, 0f, 255f);
            chw[2 * plane + i] = Math.Clamp(B, 0f, 255f);
        }
    }

    // torchvision RandomErasing semantics: scale (0.02, 0.33), log-uniform ratio (0.3, 3.3), 10 attempts.
    private void Erase(Span<float> chw, int h, int w, Random r)
    {
        int plane = h * w;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double area = plane * (0.02 + r.NextDouble() * (0.33 - 0.02));
            double ratio = Math.Exp(Math.Log(0.3) + r.NextDouble() * (Math.Log(3.3) - Math.Log(0.3)));
            int eh = (int)Math.Round(Math.Sqrt(area * ratio)), ew = (int)Math.Round(Math.Sqrt(area / ratio));
            if (eh >= h || ew >= w || eh < 1 || ew < 1) continue;
            int y0 = r.Next(0, h - eh + 1), x0 = r.Next(0, w - ew + 1);
            for (int c = 0; c < 3; c++)
                for (int y = y0; y < y0 + eh; y++)
                    chw.Slice(c * plane + y * w + x0, ew).Fill(_eraseValue[c]);
            return;
        }
    }
}
