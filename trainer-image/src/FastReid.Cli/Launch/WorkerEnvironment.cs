using System.Globalization;
using FastReid.Engine;

namespace FastReid.Cli.Launch;

/// <summary>
/// What <c>fastreid train --nproc-per-node N</c> hands each of its N workers, torchrun's contract with PyTorch's
/// names: worker i gets <c>LOCAL_RANK</c> i, <c>RANK</c> NODE_RANK × N + i, <c>WORLD_SIZE</c> NNODES × N,
/// <c>NPROC_PER_NODE</c> N, <c>NNODES</c> and <c>NODE_RANK</c> (from the environment, default 1 and 0),
/// <c>MASTER_ADDR</c> and <c>MASTER_PORT</c> (on one node 127.0.0.1 and a free port unless set; across nodes
/// they must be set, since every node must meet at the same place), and <see cref="LauncherPidVariable"/>, the
/// marker that makes a worker train in its own process instead of launching again. Pure: the environment and
/// the free port come in as functions.
/// </summary>
internal static class WorkerEnvironment
{
    /// <summary>Set in every worker to the launcher's pid: the worker never launches again and exits when the launcher is gone.</summary>
    public const string LauncherPidVariable = "FASTREID_LAUNCHER_PID";

    /// <summary>
    /// The number of workers this process should run: the flag, else <c>NPROC_PER_NODE</c>, else 1; always 1 in a
    /// worker (it inherits NPROC_PER_NODE from its launcher). 1 means train in this process.
    /// </summary>
    public static int ProcsPerNode(int? flag, Func<string, string?> getEnv)
    {
        if (getEnv(LauncherPidVariable) is { Length: > 0 }) return 1;
        if (flag is < 1) throw new CliUsageException($"option --nproc-per-node expects an integer >= 1, got {flag}");
        var fromEnv = Read(getEnv, "NPROC_PER_NODE", 1);
        if (flag is { } n && fromEnv is { } e && n != e)
            throw new FastReidException($"--nproc-per-node {n} disagrees with NPROC_PER_NODE={e} in the environment; give one of them");
        return flag ?? fromEnv ?? 1;
    }

    /// <summary>The environment of each local worker, by local rank; only the variables the launcher sets.</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, string>> For(int procsPerNode, Func<string, string?> getEnv, Func<int> freePort, int launcherPid)
    {
        // NNODES and NODE_RANK are read, and checked, the way every worker will read them
        var node = DistributedEnv.FromEnvironment(name => name switch
        {
            "NPROC_PER_NODE" => Invariant(procsPerNode),
            "WORLD_SIZE" or "RANK" or "LOCAL_RANK" => null,
            _ => getEnv(name),
        });
        int worldSize = node.Nodes * procsPerNode;
        if (Read(getEnv, "WORLD_SIZE", 1) is { } given && given != worldSize)
            throw new FastReidException($"WORLD_SIZE={given} in the environment disagrees with NNODES {node.Nodes} x --nproc-per-node {procsPerNode} = {worldSize}; unset WORLD_SIZE or correct it");

        string? address = getEnv("MASTER_ADDR") is { Length: > 0 } a ? a : null;
        int? port = Read(getEnv, "MASTER_PORT", 1);
        if (port > 65535) throw new FastReidException($"MASTER_PORT={port} is not a TCP port (1-65535)");
        if (node.Nodes > 1 && (address is null || port is null))
        {
            var missing = string.Join(" and ", new[] { address is null ? "MASTER_ADDR" : null, port is null ? "MASTER_PORT" : null }.OfType<string>());
            throw new FastReidException($"NNODES {node.Nodes}: {missing} must be set, to the address and port of the rendezvous on the NODE_RANK 0 node, the same on every node");
        }
        address ??= "127.0.0.1";
        port ??= freePort();

        var workers = new List<IReadOnlyDictionary<string, string>>(procsPerNode);
        for (int local = 0; local < procsPerNode; local++)
        {
            workers.Add(new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["LOCAL_RANK"] = Invariant(local),
                ["RANK"] = Invariant(node.NodeRank * procsPerNode + local),
                ["WORLD_SIZE"] = Invariant(worldSize),
                ["NNODES"] = Invariant(node.Nodes),
                ["NODE_RANK"] = Invariant(node.NodeRank),
                ["NPROC_PER_NODE"] = Invariant(procsPerNode),
                ["MASTER_ADDR"] = address,
                ["MASTER_PORT"] = Invariant(port.Value),
                [LauncherPidVariable] = Invariant(launcherPid),
            });
        }
        return workers;
    }

    private static int? Read(Func<string, string?> getEnv, string name, int min)
    {
        var v = getEnv(name);
        if (string.IsNullOrEmpty(v)) return null;
        return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n : throw new FastReidException($"environment variable {name}='{v}' is not an integer >= {min}");
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
