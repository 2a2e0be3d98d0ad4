using System.Globalization;

namespace FastReid.Cli;

/// <summary>Wrong command-line usage: the message names the option; the front end adds the usage text.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>
/// The arguments of one command: <c>--name value</c>, <c>--name=value</c>, boolean <c>--flag</c>s and
/// positionals (for <c>train</c> those are trailing FastReID <c>KEY VALUE</c> overrides). Each option
/// read is remembered so <see cref="EnsureAllUsed"/> can name a misspelled one.
/// </summary>
internal sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    // where each option was written in the raw arguments (start, count), so Without can drop it
    private readonly Dictionary<string, (int Start, int Count)> _spans = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<string> _raw;

    public IReadOnlyList<string> Positionals { get; }

    private CliArgs(IReadOnlyList<string> raw, List<string> positionals) => (_raw, Positionals) = (raw, positionals);

    /// <param name="flags">option names (without dashes) that take no value.</param>
    public static CliArgs Parse(IReadOnlyList<string> args, IEnumerable<string> flags)
    {
        var flagSet = new HashSet<string>(flags, StringComparer.Ordinal) { "help" };
        var positionals = new List<string>();
        var parsed = new CliArgs(args.ToArray(), positionals);
        for (int i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--") { positionals.AddRange(args.Skip(i + 1)); break; }
            if (arg == "-h") arg = "--help";
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2 || IsNumber(arg))
            {
                positionals.Add(arg);
                continue;
            }
            int start = i;
            var body = arg[2..];
            var eq = body.IndexOf('=');
            string name = eq >= 0 ? body[..eq] : body;
            string? value;
            if (eq >= 0) value = body[(eq + 1)..];
            else if (flagSet.Contains(name)) value = null;
            else if (i + 1 < args.Count) value = args[++i];
            else throw new CliUsageException($"option --{name} needs a value");
            if (!parsed._options.TryAdd(name, value))
                throw new CliUsageException($"option --{name} is given twice");
            parsed._spans[name] = (start, i - start + 1);
        }
        return parsed;
    }

    private static bool IsNumber(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    public bool Help => _options.ContainsKey("help");

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var value)) return false;
        return value is null || value is "true" or "1" or "yes"
            ? true
            : value is "false" or "0" or "no" ? false
            : throw new CliUsageException($"option --{name} takes no value (got '{value}')");
    }

    public string? Option(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var value)) return null;
        return value ?? throw new CliUsageException($"option --{name} needs a value");
    }

    public string Require(string name) =>
        Option(name) ?? throw new CliUsageException($"option --{name} is required");

    public int Int(string name, int fallback) => Option(name) is { } s
        ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v : throw new CliUsageException($"option --{name} expects an integer, got '{s}'")
        : fallback;

    public long Long(string name, long fallback) => Option(name) is { } s
        ? long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v : throw new CliUsageException($"option --{name} expects an integer, got '{s}'")
        : fallback;

    /// <summary>A finite number: NaN and infinities, which double.TryParse accepts, slip through every range check.</summary>
    public double Double(string name, double fallback) => Option(name) is { } s
        ? double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v : throw new CliUsageException($"option --{name} expects a finite number, got '{s}'")
        : fallback;

    /// <summary>Fails on an option no reader asked for, naming it and the closest known one.</summary>
    public void EnsureAllUsed()
    {
        foreach (var name in _options.Keys)
        {
            if (name == "help" || _used.Contains(name)) continue;
            var closest = _used.OrderBy(u => Levenshtein(u, name)).FirstOrDefault();
            var hint = closest is not null && Levenshtein(closest, name) <= Math.Max(2, name.Length / 3)
                ? $" (did you mean --{closest}?)" : "";
            throw new CliUsageException($"unknown option --{name}{hint}");
        }
    }

    /// <summary>The arguments as given, less option <paramref name="name"/> and its value (the launcher's own flag, which workers must not see).</summary>
    public IReadOnlyList<string> Without(string name)
    {
        if (!_spans.TryGetValue(name, out var span)) return _raw;
        return [.. _raw.Take(span.Start), .. _raw.Skip(span.Start + span.Count)];
    }

    public void EnsureNoPositionals()
    {
        if (Positionals.Count > 0)
            throw new CliUsageException($"unexpected argument '{Positionals[0]}'");
    }

    internal static int Levenshtein(string a, string b) => FastReid.Config.ConfigSchema.EditDistance(a, b);
}
