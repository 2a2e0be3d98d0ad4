namespace FastReid.Cli;

/// <summary>
/// One <c>fastreid</c> command. <paramref name="Name"/> may have two words (<c>data synth</c>);
/// <paramref name="Usage"/> is printed by <c>--help</c> and after a usage error;
/// <paramref name="Flags"/> are the options that take no value.
/// </summary>
internal sealed record CliCommand(string Name, string Summary, string Usage, string[] Flags, Func<CliArgs, int> Run);
