using System.Globalization;
using FastReid.Engine;

namespace FastReid.Distributed;

/// <summary>Opens the collectives a process's environment asks for (PyTorch's variable names).</summary>
public static class Collectives
{
    /// <summary>
    /// WORLD_SIZE, RANK and LOCAL_RANK as <see cref="DistributedEnv"/> reads them; MASTER_ADDR and MASTER_PORT
    /// only when WORLD_SIZE > 1. <paramref name="backend"/>: <c>tcp</c>, or <c>nccl</c> (not in this build).
    /// </summary>
    public static ICollectives FromEnvironment(string backend = "tcp", CollectiveOptions? options = null, Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        if (backend == "nccl")
            throw new UnsupportedSettingException("collectives backend 'nccl' is not in this build yet; use 'tcp'");
        if (backend != "tcp")
            throw new FastReidException($"collectives backend '{backend}' is unknown; allowed: tcp, nccl");
        var env = DistributedEnv.FromEnvironment();
        if (env.WorldSize == 1) return new SingleProcessCollectives();
        var addr = getEnv("MASTER_ADDR");
        if (string.IsNullOrWhiteSpace(addr)) throw new FastReidException($"WORLD_SIZE is {env.WorldSize} but MASTER_ADDR is not set (the host of rank 0)");
        var portText = getEnv("MASTER_PORT");
        if (!int.TryParse(portText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FastReidException($"MASTER_PORT='{portText}' is not a TCP port (1-65535)");
        return TcpCollectives.Connect(env.Rank, env.WorldSize, env.LocalRank, addr, port, options ?? CollectiveOptions.FromEnvironment(getEnv));
    }
}
