using FastReid.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Engine;

/// <summary>
/// The one place a device is chosen: <c>MODEL.DEVICE</c> cuda is this process's GPU (<c>LOCAL_RANK</c>) when one
/// is visible, and otherwise the CPU with a warning (a CPU build or no GPU); cpu is the CPU. Training,
/// embedding, evaluation and export all come through here.
/// </summary>
public static class Devices
{
    public static Device Choose(FastReidConfig cfg, Action<string> warn) => Choose(cfg.String("MODEL.DEVICE"), warn);

    /// <param name="wanted">cuda or cpu; callers that must stay on the CPU (export: onnxruntime verifies there) pass cpu.</param>
    public static Device Choose(string wanted, Action<string> warn)
    {
        if (wanted == "cuda")
        {
            if (torch.cuda.is_available()) return new Device(DeviceType.CUDA, DistributedEnv.FromEnvironment().LocalRank);
            warn("MODEL.DEVICE is cuda but no CUDA device is visible (this is a CPU build or there is no GPU): running on the CPU");
        }
        return CPU;
    }
}
