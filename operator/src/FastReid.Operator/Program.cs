using FastReid.Operator.Crds;

namespace FastReid.Operator;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["crds", ..])
            return CrdCommand.Run(args[1..], Console.Out, Console.Error);
        await Task.CompletedTask;
        Console.Error.WriteLine("usage: fastreid-operator crds [--output DIR]");
        return 2;
    }
}
