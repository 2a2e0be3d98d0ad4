using System.Globalization;
using System.Text;

namespace FastReid.Config;

/// <summary>
/// Turns raw values (YAML/JSON scalars as text, sequences as lists, or command-line text) into the typed
/// value a key holds. Lists may also be written as Python literals, as yacs reads them:
/// <c>("Market1501",)</c>, <c>[40, 90]</c>, <c>(256, 128)</c>.
/// </summary>
public static class ConfigValueParser
{
    /// <param name="raw">a string (scalar text), or a list of strings for sequences.</param>
    /// <param name="where">where the value came from, for messages (a file name or "command line").</param>
    public static object Parse(ConfigKey key, object? raw, string where)
    {
        try
        {
            object value = key.Kind switch
            {
                ConfigValueKind.Bool => ParseBool(Scalar(raw)),
                ConfigValueKind.Int => ParseInt(Scalar(raw)),
                ConfigValueKind.Float => ParseFloat(Scalar(raw)),
                ConfigValueKind.String => ParseString(key, Scalar(raw)),
                ConfigValueKind.IntList => Items(raw).Select(ParseInt).ToArray(),
                ConfigValueKind.FloatList => Items(raw).Select(ParseFloat).ToArray(),
                ConfigValueKind.StringList => Items(raw).ToArray(),
                _ => throw new InvalidOperationException($"unhandled kind {key.Kind}"),
            };
            CheckLimits(key, value);
            return value;
        }
        catch (FormatException e)
        {
            throw new ConfigException($"{where}: {key.Name}: {e.Message}", key.Name);
        }
    }

    private static string Scalar(object? raw) => raw switch
    {
        null => throw new FormatException("a value is required"),
        string s => s,
        _ => throw new FormatException("expected a single value, got a list"),
    };

    /// <summary>The key's stated limits: the range of a number or of each item, the number of items, the allowed names.</summary>
    private static void CheckLimits(ConfigKey key, object value)
    {
        switch (value)
        {
            case long l: InRange(key, l, Text(l)); break;
            case double d: InRange(key, d, Text(d)); break;
            case long[] ls: Count(key, ls.Length, Format(ls)); foreach (var l in ls) InRange(key, l, $"{Text(l)} in {Format(ls)}"); break;
            case double[] ds: Count(key, ds.Length, Format(ds)); foreach (var d in ds) InRange(key, d, $"{Text(d)} in {Format(ds)}"); break;
            case string[] ss:
                Count(key, ss.Length, Format(ss));
                if (key.Allowed is { } allowed && ss.FirstOrDefault(n => !allowed.Contains(n, StringComparer.Ordinal)) is { } bad)
                    throw new FormatException($"'{bad}' is not one of: {string.Join(", ", allowed)}");
                break;
        }
    }

    private static void InRange(ConfigKey key, double value, string what)
    {
        if (key.EffectiveRange is { } range && !range.Contains(value))
            throw new FormatException($"must be {range} (got {what})");
    }

    private static void Count(ConfigKey key, int count, string what)
    {
        if (key.Length is { } length && count != length)
            throw new FormatException($"expects {length} values, got {count} ({what})");
        if (count < key.MinItems)
            throw new FormatException($"expects at least {key.MinItems} value{(key.MinItems == 1 ? "" : "s")}, got {count} ({what})");
    }

    private static string Text(long l) => l.ToString(CultureInfo.InvariantCulture);
    private static string Text(double d) => d.ToString("R", CultureInfo.InvariantCulture);

    private static bool ParseBool(string s) => s.Trim() switch
    {
        "True" or "true" or "TRUE" => true,
        "False" or "false" or "FALSE" => false,
        var other => throw new FormatException($"expected True or False, got '{other}'"),
    };

    private static long ParseInt(string s)
    {
        var t = s.Trim();
        if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) return v;
        throw new FormatException($"expected an integer, got '{t}'");
    }

    private static double ParseFloat(string s)
    {
        var t = s.Trim();
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)) return v;
        throw new FormatException($"expected a number, got '{t}'");
    }

    private static string ParseString(ConfigKey key, string s)
    {
        var t = Unquote(s.Trim());
        if (key.Allowed is { } allowed && !allowed.Contains(t, StringComparer.Ordinal))
            throw new FormatException($"'{t}' is not one of: {string.Join(", ", allowed)}");
        return t;
    }

    private static IEnumerable<string> Items(object? raw) => raw switch
    {
        null => throw new FormatException("a value is required"),
        IEnumerable<object?> list => list.Select(item => item as string
            ?? throw new FormatException("list items must be single values")).Select(i => Unquote(i.Trim())),
        string s => ParseLiteralList(s),
        _ => throw new FormatException("expected a list"),
    };

    /// <summary>A Python tuple/list literal, or a bare single value meaning a one-element list.</summary>
    private static List<string> ParseLiteralList(string text)
    {
        var t = text.Trim();
        if (t.Length == 0) return [];
        char open = t[0];
        if (open is not ('(' or '['))
            return [Unquote(t)];
        char close = open == '(' ? ')' : ']';
        if (t[^1] != close) throw new FormatException($"unbalanced list literal '{t}'");
        var items = new List<string>();
        var current = new StringBuilder();
        char? quote = null;
        bool sawQuoted = false;
        for (int i = 1; i < t.Length - 1; i++)
        {
            char c = t[i];
            if (quote is { } q)
            {
                if (c == '\\' && i + 1 < t.Length - 1) { current.Append(t[++i]); continue; }
                if (c == q) { quote = null; continue; }
                current.Append(c);
            }
            else if (c is '"' or '\'') { quote = c; sawQuoted = true; }
            else if (c == ',') { Flush(); }
            else if (!char.IsWhiteSpace(c)) current.Append(c);
        }
        if (quote is not null) throw new FormatException($"unterminated quote in '{t}'");
        Flush();
        return items;

        void Flush()
        {
            if (current.Length > 0 || sawQuoted) items.Add(current.ToString());
            current.Clear();
            sawQuoted = false;
        }
    }

    private static string Unquote(string s) =>
        s.Length >= 2 && (s[0] == '"' && s[^1] == '"' || s[0] == '\'' && s[^1] == '\'') ? s[1..^1] : s;

    /// <summary>Text for a typed value in YAML, parseable again by <see cref="Parse"/>.</summary>
    public static string Format(object value) => value switch
    {
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        string s => Quote(s),
        long[] ls => "[" + string.Join(", ", ls.Select(l => l.ToString(CultureInfo.InvariantCulture))) + "]",
        double[] ds => "[" + string.Join(", ", ds.Select(FormatFloat)) + "]",
        string[] ss => "[" + string.Join(", ", ss.Select(Quote)) + "]",
        _ => throw new InvalidOperationException($"unexpected config value {value.GetType()}"),
    };

    private static string FormatFloat(double d)
    {
        // PyYAML reads a float only with a dot in the mantissa (1.0e-07, not 1E-07): keep configs loadable by FastReID.
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        int e = s.IndexOf('E');
        if (e < 0) return s.Contains('.') ? s : s + ".0";
        var mantissa = s[..e];
        var exponent = s[(e + 1)..];
        if (!mantissa.Contains('.')) mantissa += ".0";
        if (exponent[0] != '-' && exponent[0] != '+') exponent = "+" + exponent;
        return mantissa + "e" + exponent;
    }

    private static string Quote(string s) => "'" + s.Replace("'", "''") + "'";
}
