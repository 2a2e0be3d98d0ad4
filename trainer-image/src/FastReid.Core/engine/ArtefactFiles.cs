using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>Small helpers for writing outputs so a crash never leaves a half-written file under the final name.</summary>
public static class ArtefactFiles
{
    public static void WriteAllTextAtomic(string path, string text) =>
        WriteAtomic(path, tmp => File.WriteAllText(tmp, text, new UTF8Encoding(false)));

    public static void WriteAtomic(string path, Action<string> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            write(tmp);
            using (var fs = new FileStream(tmp, FileMode.Open, FileAccess.Read)) fs.Flush(flushToDisk: true);
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    public static string Sha256File(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    /// <summary>
    /// A digest of the weights themselves (names, dtypes, shapes and bytes of every state-dict entry in
    /// name order), independent of how the file was serialised: two runs with identical weights match.
    /// </summary>
    public static string WeightsSha256(nn.Module model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in model.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"{name}|{tensor.dtype}|{string.Join(",", tensor.shape)}\n"));
            using var cpu = tensor.detach().to(CPU).contiguous();
            sha.AppendData(cpu.bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
