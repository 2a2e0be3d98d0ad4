using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using FastReid.Modeling.MetaArch;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>Digests of artefacts: of a file, and of a model's weights themselves. (Atomic writes: <see cref="Storage.AtomicFile"/>.)</summary>
public static class ArtefactFiles
{
    public static string Sha256File(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    /// <summary>
    /// A digest of the weights themselves (names, dtypes, shapes and bytes of every state-dict entry in
    /// name order), independent of how the file was serialised: two runs with identical weights match.
    /// Only the saved module counts: what is not saved (a Distiller's teachers) is not the model's weights.
    /// </summary>
    public static string WeightsSha256(MetaArch model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in model.SavedModule.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"{name}|{tensor.dtype}|{string.Join(",", tensor.shape)}\n"));
            using var cpu = tensor.detach().to(CPU).contiguous();
            sha.AppendData(cpu.bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
