using System.Globalization;
using FastReid.Engine;

namespace FastReid.Distributed;

/// <summary>Opens the collectives a process's environment asks for (PyTorch's variable names).</summary>
public static class Collectives
{
    /// <summary>
    /// WORLD_SIZE, RANK and LOCAL_RANK as <see cref="DistributedEnv"/> reads them; MASTER_ADDR and MASTER_PORT
    /// only when WORLD_SIZE > 1. <paramref name="backend"/>: <c>tcp</c> (CPU tensors), or <c>nccl</c> (CUDA tensors;
    /// an <see cref="UnsupportedSettingException"/> saying why where this process has no CUDA or no NCCL).
    /// </summary>
    public static ICollectives FromEnvironment(string backend = "tcp", CollectiveOptions? options = null, Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        if (backend is not ("tcp" or "nccl"))
            throw new FastReidException($"collectives backend '{backend}' is unknown; allowed: tcp, nccl");
        var env = DistributedEnv.FromEnvironment(getEnv);
        options ??= CollectiveOptions.FromEnvironment(getEnv);
        if (backend == "nccl")
        {
            // world size 1 still opens a one-rank communicator, so the GPU path is the same code at any size
            var (ncclAddr, ncclPort) = env.WorldSize == 1 ? (null, 0) : Master(env, getEnv);
            return NcclCollectives.Connect(env.Rank, env.WorldSize, env.LocalRank, ncclAddr, ncclPort, options, getEnv);
        }
        if (env.WorldSize == 1) return new SingleProcessCollectives();
        var (addr, port) = Master(env, getEnv);
        return TcpCollectives.Connect(env.Rank, env.WorldSize, env.LocalRank, addr, port, options);
    }

    private static (string Addr, int Port) Master(DistributedEnv env, Func<string, string?> getEnv)
    {
        var addr = getEnv("MASTER_ADDR");
        if (string.IsNullOrWhiteSpace(addr)) throw new FastReidException($"WORLD_SIZE is {env.WorldSize} but MASTER_ADDR is not set (the host of rank 0)");
        var portText = getEnv("MASTER_PORT");
        if (!int.TryParse(portText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FastReidException($"MASTER_PORT='{portText}' is not a TCP port (1-65535)");
        return (addr, port);
    }
}
