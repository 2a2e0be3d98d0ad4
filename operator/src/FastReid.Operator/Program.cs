using System.Runtime.InteropServices;
using FastReid.Operator.Crds;
using FastReid.Operator.Hosting;
using k8s;
using Microsoft.Extensions.Logging;

namespace FastReid.Operator;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // the logs quote spec fields and API errors: URL credentials and secret variables are masked in all of them
        var redactor = Redactor.ForProcess();
        Console.SetOut(new RedactingWriter(Console.Out, redactor));
        Console.SetError(new RedactingWriter(Console.Error, redactor));
        if (args is ["crds", ..]) return CrdCommand.Run(args[1..], Console.Out, Console.Error);
        if (args is ["--help" or "-h" or "help", ..]) { Console.WriteLine(OperatorOptions.Usage); return 0; }

        OperatorOptions options;
        try
        {
            options = OperatorOptions.Parse(args is ["run", ..] ? args[1..] : args);
        }
        catch (OptionsException e)
        {
            Console.Error.WriteLine($"fastreid-operator: {e.Message}\n\n{OperatorOptions.Usage}");
            return 2;
        }

        using var loggers = LoggerFactory.Create(b => b.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ").SetMinimumLevel(LogLevel.Information));
        KubernetesClientConfiguration config;
        try
        {
            config = options.Kubeconfig is { } file ? KubernetesClientConfiguration.BuildConfigFromConfigFile(file)
                : KubernetesClientConfiguration.IsInCluster() ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildDefaultConfig();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"fastreid-operator: no Kubernetes configuration ({e.Message}); pass --kubeconfig FILE or set KUBECONFIG");
            return 2;
        }

        using var client = new Kubernetes(config);
        using var shutdown = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; shutdown.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; shutdown.Cancel(); });
        return await new OperatorHost(options, client, loggers).RunAsync(shutdown.Token).ConfigureAwait(false);
    }
}
