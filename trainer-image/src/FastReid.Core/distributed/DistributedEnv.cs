using System.Globalization;

namespace FastReid.Engine;

/// <summary>
/// The PyTorch-style distributed environment of one worker, single process by default.
/// <list type="bullet">
/// <item><c>WORLD_SIZE</c>, <c>RANK</c>, <c>LOCAL_RANK</c> as torchrun sets them;</item>
/// <item><c>NNODES</c>, <c>NODE_RANK</c>, <c>NPROC_PER_NODE</c> as the operator's pods set them: when RANK is absent it is
/// <c>NODE_RANK × NPROC_PER_NODE + LOCAL_RANK</c>, and when WORLD_SIZE is absent it is <c>NNODES × NPROC_PER_NODE</c>.</item>
/// </list>
/// Every value is checked against the others, so a pod with a mistyped variable stops with a message naming it.
/// </summary>
public sealed record DistributedEnv(int WorldSize, int Rank, int LocalRank, int NodeRank = 0, int Nodes = 1, int ProcsPerNode = 1)
{
    public bool IsDistributed => WorldSize > 1;
    /// <summary>Rank 0 alone writes checkpoints, artefacts, the manifest and the result.</summary>
    public bool IsMain => Rank == 0;

    public static DistributedEnv FromEnvironment(Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        int? Read(string name, int min)
        {
            var v = getEnv(name);
            if (string.IsNullOrEmpty(v)) return null;
            return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
                ? n : throw new FastReidException($"environment variable {name}='{v}' is not an integer >= {min}");
        }
        int nodes = Read("NNODES", 1) ?? 1, perNode = Read("NPROC_PER_NODE", 1) ?? 1;
        int nodeRank = Read("NODE_RANK", 0) ?? 0, localRank = Read("LOCAL_RANK", 0) ?? 0;
        if (nodeRank >= nodes) throw new FastReidException($"NODE_RANK {nodeRank} is not below NNODES {nodes}");
        int worldSize = Read("WORLD_SIZE", 1) ?? nodes * perNode;
        int rank = Read("RANK", 0) ?? nodeRank * perNode + localRank;
        if (rank >= worldSize) throw new FastReidException($"RANK {rank} is not below WORLD_SIZE {worldSize}");
        if (getEnv("NPROC_PER_NODE") is { Length: > 0 } && getEnv("NNODES") is { Length: > 0 } && worldSize != nodes * perNode)
            throw new FastReidException($"WORLD_SIZE {worldSize} is not NNODES {nodes} x NPROC_PER_NODE {perNode}");
        return new DistributedEnv(worldSize, rank, localRank, nodeRank, nodes, perNode);
    }
}
