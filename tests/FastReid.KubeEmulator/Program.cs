using System.Runtime.InteropServices;
using FastReid.KubeEmulator;

// kube-emulator --listen 127.0.0.1:PORT --kubeconfig FILE
// Serves until SIGINT/SIGTERM; prints "ready" once the kubeconfig is written and the port accepts requests.
string listen = "127.0.0.1:0";
string? kubeconfig = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--listen" when i + 1 < args.Length: listen = args[++i]; break;
        case "--kubeconfig" when i + 1 < args.Length: kubeconfig = args[++i]; break;
        case "-h" or "--help":
            Console.WriteLine("usage: kube-emulator --listen 127.0.0.1:PORT --kubeconfig FILE");
            return 0;
        default:
            Console.Error.WriteLine($"kube-emulator: unknown argument '{args[i]}' (usage: kube-emulator --listen 127.0.0.1:PORT --kubeconfig FILE)");
            return 2;
    }
}
var colon = listen.LastIndexOf(':');
if (colon <= 0 || !int.TryParse(listen[(colon + 1)..], out var port) || port is < 0 or > 65535)
{
    Console.Error.WriteLine($"kube-emulator: --listen wants HOST:PORT, got '{listen}'");
    return 2;
}
KubeEmulatorServer server;
try
{
    server = await KubeEmulatorServer.StartAsync(new KubeEmulatorOptions { Host = listen[..colon], Port = port });
}
catch (Exception e) when (e is IOException or ArgumentException)
{
    Console.Error.WriteLine($"kube-emulator: cannot listen on {listen}: {e.Message}");
    return 1;
}
await using var serverScope = server;
if (kubeconfig is not null) server.WriteKubeconfig(kubeconfig);
using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
Console.WriteLine($"kube-emulator ready on {server.Url}" + (kubeconfig is null ? "" : $" (kubeconfig {kubeconfig})"));
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException) { }
return 0;
