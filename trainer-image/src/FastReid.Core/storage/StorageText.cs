using System.Text;

namespace FastReid.Storage;

/// <summary>Small text objects (config.yaml, metrics.json, manifests, result JSON) through any storage.</summary>
public static class StorageText
{
    /// <summary>The object's text (UTF-8), or null when it does not exist.</summary>
    public static async Task<string?> TryReadAsync(IStorage storage, string key, CancellationToken ct = default)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"fastreid-read{AtomicFile.TempMarker}{Guid.NewGuid():N}");
        try
        {
            if (await storage.StatAsync(key, ct).ConfigureAwait(false) is null) return null;
            try
            {
                await storage.GetFileAsync(key, scratch, ct).ConfigureAwait(false);
            }
            catch (FastReidException)
            {
                if (await storage.StatAsync(key, ct).ConfigureAwait(false) is null)
                    return null; // deleted between stat and read
                throw;
            }
            return await File.ReadAllTextAsync(scratch, Encoding.UTF8, ct).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(scratch);
        }
    }

    /// <summary>Stores <paramref name="text"/> as UTF-8, all or nothing.</summary>
    public static async Task WriteAsync(IStorage storage, string key, string text, CancellationToken ct = default)
    {
        using var content = new MemoryStream(new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
        await storage.PutStreamAsync(content, key, ct).ConfigureAwait(false);
    }
}
