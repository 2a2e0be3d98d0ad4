using SkiaSharp;

namespace FastReid.Data.Synth;

/// <summary>Draws one pedestrian crop: camera background, then the person, then camera blur.</summary>
internal static class Renderer
{
    public static SKBitmap Draw(Identity p, CameraLook cam, SyntheticMarket.Kind kind, int w, int h, Random r)
    {
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        using var paint = new SKPaint { IsAntialias = true };
        DrawBackground(canvas, paint, cam, w, h, r);
        if (kind != SyntheticMarket.Kind.Background)
        {
            canvas.Save();
            float scale = cam.Scale * (0.92f + 0.12f * r.NextSingle());
            float dx = (r.NextSingle() - 0.5f) * 0.16f * w, dy = (r.NextSingle() - 0.5f) * 0.06f * h;
            canvas.Translate(w / 2f + dx, h * 0.98f + dy);
            canvas.RotateDegrees((r.NextSingle() - 0.5f) * 6f);
            canvas.Scale(scale * w / 64f, scale * h / 128f);
            bool facingBack = r.Next(3) == 0;
            if (kind == SyntheticMarket.Kind.Partial)
                canvas.Translate((r.Next(2) == 0 ? -1 : 1) * 26f, -30f * r.NextSingle());
            DrawPerson(canvas, paint, p, cam, facingBack, r);
            canvas.Restore();
            if (r.NextSingle() < 0.15f) DrawOccluder(canvas, paint, cam, w, h, r);
        }
        if (cam.Blur > 0)
        {
            using var blurred = new SKBitmap(bitmap.Info);
            using (var c2 = new SKCanvas(blurred))
            using (var blur = new SKPaint { ImageFilter = SKImageFilter.CreateBlur(cam.Blur, cam.Blur) })
                c2.DrawBitmap(bitmap, 0, 0, blur);
            blurred.CopyTo(bitmap);
        }
        AddNoise(bitmap, r);
        return bitmap;
    }

    private static void DrawBackground(SKCanvas canvas, SKPaint paint, CameraLook cam, int w, int h, Random r)
    {
        var clutter = new Random(cam.Seed);
        paint.Color = cam.Apply(cam.Wall);
        canvas.DrawRect(0, 0, w, h, paint);
        paint.Color = cam.Apply(cam.Ground);
        canvas.DrawRect(0, h * 0.62f, w, h * 0.38f, paint);
        for (int i = 0; i < cam.Clutter; i++)
        {
            var c = SKColor.FromHsv(360f * clutter.NextSingle(), 20f + 40f * clutter.NextSingle(), 30f + 50f * clutter.NextSingle());
            paint.Color = cam.Apply(c).WithAlpha(200);
            float x = clutter.NextSingle() * w + (r.NextSingle() - 0.5f) * 8, y = clutter.NextSingle() * h * 0.7f;
            canvas.DrawRect(x, y, w * (0.1f + 0.3f * clutter.NextSingle()), h * (0.05f + 0.25f * clutter.NextSingle()), paint);
        }
    }

    // Coordinates: origin at the feet, x right, y up negative; a 64x128 crop unit.
    private static void DrawPerson(SKCanvas canvas, SKPaint paint, Identity p, CameraLook cam, bool back, Random r)
    {
        float s = p.Height, b = p.Build;
        float legTop = -52 * s, hip = 11 * b, torsoTop = -88 * s, shoulder = 14 * b;
        float stride = (r.NextSingle() - 0.5f) * 8f;
        // legs and shoes
        paint.Color = cam.Apply(p.Pants);
        canvas.DrawRect(-hip, legTop, hip - 1.5f, -legTop - 4, paint);
        canvas.DrawRect(1.5f + stride * 0.2f, legTop, hip - 1.5f, -legTop - 4, paint);
        paint.Color = cam.Apply(p.Shoes);
        canvas.DrawRect(-hip - 1, -5, hip + 1, 5, paint);
        canvas.DrawRect(1 + stride * 0.2f, -5, hip + 1, 5, paint);
        // backpack behind the torso when seen from the front
        if (p.Bag == 1 && !back) { paint.Color = cam.Apply(p.BagColor); canvas.DrawRect(-shoulder - 3, torsoTop + 6, 3, 24, paint); }
        // torso
        var torso = new SKRect(-shoulder, torsoTop, shoulder, legTop + 4);
        paint.Color = cam.Apply(p.Shirt);
        canvas.DrawRoundRect(torso, 4, 4, paint);
        DrawPattern(canvas, paint, p, cam, torso);
        if (p.Bag == 1 && back) { paint.Color = cam.Apply(p.BagColor); canvas.DrawRoundRect(new SKRect(-shoulder + 3, torsoTop + 4, shoulder - 3, torsoTop + 30), 3, 3, paint); }
        // arms
        float armLen = 34 * s;
        paint.Color = cam.Apply(p.Shirt);
        canvas.DrawRect(-shoulder - 5, torsoTop + 2, 5, p.LongSleeves ? armLen : armLen * 0.4f, paint);
        canvas.DrawRect(shoulder, torsoTop + 2, 5, p.LongSleeves ? armLen : armLen * 0.4f, paint);
        if (!p.LongSleeves)
        {
            paint.Color = cam.Apply(p.Skin);
            canvas.DrawRect(-shoulder - 5, torsoTop + 2 + armLen * 0.4f, 5, armLen * 0.6f, paint);
            canvas.DrawRect(shoulder, torsoTop + 2 + armLen * 0.4f, 5, armLen * 0.6f, paint);
        }
        // hand bag
        if (p.Bag >= 2)
        {
            paint.Color = cam.Apply(p.BagColor);
            float side = p.Bag == 2 ? -shoulder - 9 : shoulder + 1;
            canvas.DrawRoundRect(new SKRect(side, torsoTop + armLen - 4, side + 8, torsoTop + armLen + 10), 2, 2, paint);
        }
        // head, hair, hat
        float headY = torsoTop - 10 * s;
        paint.Color = cam.Apply(p.Skin);
        canvas.DrawOval(0, headY, 7.5f, 9.5f, paint);
        paint.Color = cam.Apply(p.Hair);
        canvas.DrawOval(0, headY - 5, 8f, 5.5f, paint);
        if (back || p.HairLength > 0.6f) canvas.DrawRect(-7.5f, headY - 4, 15, back ? 10 + 12 * p.HairLength : 12 * p.HairLength, paint);
        if (p.Hat) { paint.Color = cam.Apply(p.Accent); canvas.DrawRect(-9, headY - 11, 18, 6, paint); }
    }

    private static void DrawPattern(SKCanvas canvas, SKPaint paint, Identity p, CameraLook cam, SKRect torso)
    {
        paint.Color = cam.Apply(p.Accent);
        switch (p.Pattern)
        {
            case 1: // horizontal stripes
                for (float y = torso.Top + 4; y < torso.Bottom - 2; y += 7) canvas.DrawRect(torso.Left, y, torso.Width, 3, paint);
                break;
            case 2: // vertical stripes
                for (float x = torso.Left + 3; x < torso.Right - 1; x += 6) canvas.DrawRect(x, torso.Top, 2.5f, torso.Height, paint);
                break;
            case 3: // emblem
                canvas.DrawCircle(torso.MidX, torso.Top + torso.Height * 0.35f, torso.Width * 0.22f, paint);
                break;
            case 4: // two-tone
                canvas.DrawRect(torso.Left, torso.MidY, torso.Width, torso.Height / 2, paint);
                break;
        }
    }

    private static void DrawOccluder(SKCanvas canvas, SKPaint paint, CameraLook cam, int w, int h, Random r)
    {
        paint.Color = cam.Apply(SKColor.FromHsv(360f * r.NextSingle(), 30f, 30f + 40f * r.NextSingle()));
        float top = h * (0.7f + 0.15f * r.NextSingle());
        canvas.DrawRect(r.Next(2) == 0 ? 0 : w * 0.5f, top, w * 0.5f, h - top, paint);
    }

    private static void AddNoise(SKBitmap bitmap, Random r)
    {
        var pixels = bitmap.GetPixelSpan();
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels).ToArray();
        for (int i = 0; i < bytes.Length; i += 4)
            for (int c = 0; c < 3; c++)
                bytes[i + c] = (byte)Math.Clamp(bytes[i + c] + r.Next(-6, 7), 0, 255);
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
    }
}
