namespace FastReid.Data;

/// <summary>The image files we read: PNG and JPEG, by extension.</summary>
public static class ImageFiles
{
    public static readonly string[] Extensions = [".jpg", ".jpeg", ".png"];

    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());
}
