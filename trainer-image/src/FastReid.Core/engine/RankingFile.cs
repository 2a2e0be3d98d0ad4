using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Data;
using FastReid.Evaluation;
using FastReid.Storage;
using SkiaSharp;

namespace FastReid.Engine;

/// <summary>
/// The ranked-gallery figure of an evaluation, FastReID's <c>visualize_result</c> in small: for a few queries of
/// the first test set, the query image then its top-k gallery images, each framed green (same identity) or red.
/// Writes <c>ranking.json</c> (the lists: images, identities, cameras, distances) and <c>ranking.png</c> (the
/// mosaic) to the run's folder, so they travel with its artefacts; <c>fastreid report</c> shows them.
/// </summary>
public static class RankingFile
{
    public const string JsonName = "ranking.json", ImageName = "ranking.png";
    public const int Queries = 4, TopK = 8;
    private const int CellW = 64, CellH = 128, Frame = 4, Gap = 6, QueryGap = 18, Label = 16;

    /// <summary>Writes the two files for <paramref name="result"/> into <paramref name="dir"/>; returns the image's path.</summary>
    public static string Write(string dir, TestSetResult result, string metric, int epoch, int queries = Queries, int k = TopK)
    {
        var picked = RankedGallery.PickQueries(result.Query, queries);
        var ranked = picked.Select(q => RankedGallery.Rank(result.Query, result.Gallery, q, k, metric)).ToList();
        var test = result.Test;

        JsonObject Image(ImageRecord r) => new() { ["image"] = r.Path, ["pid"] = r.Pid, ["camid"] = r.CamId };
        var json = new JsonObject
        {
            ["dataset"] = test.Name, ["epoch"] = epoch, ["metric"] = metric, ["k"] = k,
            ["note"] = "plain distance (no re-ranking or query expansion); same identity and camera as the query left out",
            ["queries"] = new JsonArray([.. ranked.Select(rq =>
            {
                var q = Image(test.Query[rq.Query]);
                q["top"] = new JsonArray([.. rq.Top.Select(m =>
                {
                    var g = Image(test.Gallery[m.Gallery]);
                    g["distance"] = m.Distance;
                    g["match"] = m.Match;
                    return (JsonNode)g;
                })]);
                return (JsonNode)q;
            })]),
        };
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, JsonName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var png = Path.Combine(dir, ImageName);
        AtomicFile.Write(png, tmp => File.WriteAllBytes(tmp, Mosaic(test, ranked, k)));
        return png;
    }

    private const int CellSize = CellW + 2 * Frame, RowH = CellH + 2 * Frame + Label + Gap;

    /// <summary>The left edge of column <paramref name="col"/>'s frame in the mosaic (0: the query, then rank 1, 2, ...).</summary>
    public static int CellLeft(int col) => col == 0 ? Gap : Gap + CellSize + QueryGap + (col - 1) * (CellSize + Gap);

    /// <summary>The top edge of row <paramref name="row"/>'s frames in the mosaic.</summary>
    public static int RowTop(int row) => Gap + row * RowH;

    private static byte[] Mosaic(ReidDataset test, IReadOnlyList<RankedQuery> ranked, int k)
    {
        int width = CellLeft(k + 1);
        int height = RowTop(Math.Max(1, ranked.Count));
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var frame = new SKPaint { IsAntialias = false, Style = SKPaintStyle.Fill };
        using var text = new SKPaint { IsAntialias = true, Color = SKColors.Black };
        using var font = new SKFont(SKTypeface.Default, 11);
        float labelY = CellH + 2 * Frame + Label - 4;
        for (int row = 0; row < ranked.Count; row++)
        {
            int y = RowTop(row);
            var rq = ranked[row];
            var query = test.Query[rq.Query];
            Cell(canvas, frame, query.Path, CellLeft(0), y, new SKColor(60, 90, 200));
            canvas.DrawText($"query {query.Pid}", CellLeft(0), y + labelY, font, text);
            for (int i = 0; i < rq.Top.Count; i++)
            {
                var m = rq.Top[i];
                int x = CellLeft(i + 1);
                Cell(canvas, frame, test.Gallery[m.Gallery].Path, x, y, m.Match ? new SKColor(30, 170, 60) : new SKColor(210, 40, 40));
                canvas.DrawText(string.Create(CultureInfo.InvariantCulture, $"{i + 1}: {m.Distance:F3}"), x, y + labelY, font, text);
            }
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static void Cell(SKCanvas canvas, SKPaint frame, string path, int x, int y, SKColor color)
    {
        frame.Color = color;
        canvas.DrawRect(x, y, CellSize, CellH + 2 * Frame, frame);
        using var image = SKImage.FromEncodedData(path) ?? throw new FastReidException($"'{path}' is not a readable PNG or JPEG image");
        canvas.DrawImage(image, new SKRect(x + Frame, y + Frame, x + Frame + CellW, y + Frame + CellH), new SKSamplingOptions(SKCubicResampler.Mitchell));
    }
}
