using System.Security.Cryptography;

namespace FastReid.Storage;

/// <summary>
/// Local-file helpers: content lands in a temporary file beside the target and is renamed into place,
/// so a crash leaves either the old file, the new file, or a temporary file nobody trusts.
/// </summary>
public static class AtomicFile
{
    /// <summary>Marks temporary files; listings skip them.</summary>
    public const string TempMarker = ".fastreid-tmp-";

    public static bool IsTemporary(string path) => Path.GetFileName(path).Contains(TempMarker, StringComparison.Ordinal);

    public static string TempPathFor(string target) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(target))!,
            $".{Path.GetFileName(target)}{TempMarker}{Guid.NewGuid():N}");

    /// <summary>Runs <paramref name="write"/> against a temporary file, flushes it to disk, then renames it onto <paramref name="target"/>.</summary>
    public static async Task WriteAsync(string target, Func<FileStream, CancellationToken, Task> write, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
        var temp = TempPathFor(target);
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await write(stream, ct).ConfigureAwait(false);
                await stream.FlushAsync(ct).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// The synchronous form for writers that take a path (a state-dict saver, a zip writer): <paramref name="writeTemp"/>
    /// writes the temporary file it is given, which is then flushed to disk and renamed onto <paramref name="target"/>.
    /// </summary>
    public static void Write(string target, Action<string> writeTemp)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
        var temp = TempPathFor(target);
        try
        {
            writeTemp(temp);
            using (var stream = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                stream.Flush(flushToDisk: true);
            File.Move(temp, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteAllBytes(string target, byte[] bytes) => Write(target, temp => File.WriteAllBytes(temp, bytes));

    /// <summary>UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string target, string text) =>
        Write(target, temp => File.WriteAllText(temp, text, new System.Text.UTF8Encoding(false)));

    public static Task WriteAllBytesAsync(string target, ReadOnlyMemory<byte> bytes, CancellationToken ct = default) =>
        WriteAsync(target, async (s, c) => await s.WriteAsync(bytes, c).ConfigureAwait(false), ct);
}

/// <summary>SHA-256 digests as lowercase hex, the form manifests use.</summary>
public static class Sha256
{
    public static async Task<string> OfFileAsync(string path, CancellationToken ct = default)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return await OfStreamAsync(stream, ct).ConfigureAwait(false);
    }

    public static async Task<string> OfStreamAsync(Stream stream, CancellationToken ct = default) =>
        Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
