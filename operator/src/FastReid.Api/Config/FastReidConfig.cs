using System.Text;

namespace FastReid.Config;

/// <summary>
/// A FastReID config: every key of <see cref="ConfigSchema"/> with a typed value, FastReID's default
/// unless a file, a tree (an operator's <c>spec.config</c>) or a command-line override set it.
/// Layers are merged in order, as yacs' <c>merge_from_file</c> and <c>merge_from_list</c> do.
/// </summary>
public sealed class FastReidConfig
{
    private readonly SortedDictionary<string, object> _values = new(StringComparer.Ordinal);

    private FastReidConfig() { }

    public static FastReidConfig Defaults()
    {
        var config = new FastReidConfig();
        foreach (var key in ConfigSchema.Keys) config._values[key.Name] = key.Default;
        return config;
    }

    public FastReidConfig Clone()
    {
        var copy = new FastReidConfig();
        foreach (var (k, v) in _values) copy._values[k] = v;
        return copy;
    }

    /// <summary>
    /// Merges a nested tree: mappings are <c>IReadOnlyDictionary&lt;string, object?&gt;</c>, sequences
    /// <c>IReadOnlyList&lt;object?&gt;</c>, scalars their text. <c>_BASE_</c> must have been resolved by the caller.
    /// </summary>
    public void MergeTree(IReadOnlyDictionary<string, object?> tree, string source)
    {
        foreach (var (name, raw) in Flatten(tree, "", source))
            Set(name, raw, source);
    }

    /// <summary>Applies trailing <c>KEY VALUE</c> pairs (values as typed on a command line).</summary>
    public void ApplyOverrides(IReadOnlyList<string> pairs, string source = "command line")
    {
        if (pairs.Count % 2 != 0)
            throw new ConfigException($"{source}: overrides come in KEY VALUE pairs; '{pairs[^1]}' has no value", pairs[^1]);
        for (int i = 0; i < pairs.Count; i += 2)
            Set(pairs[i], pairs[i + 1], source);
    }

    /// <summary>Sets one key from raw text or a list, checking the key and the value's type.</summary>
    public void Set(string name, object? raw, string source)
    {
        var key = ConfigSchema.Find(name) ?? throw Unknown(name, source);
        var value = ConfigValueParser.Parse(key, raw, source);
        if (!key.Supported && !SameValue(value, key.Default))
            throw new ConfigException(
                $"{source}: {name} is a FastReID key that FastReid.K8s does not support yet " +
                $"(only its default {ConfigValueParser.Format(key.Default)} is accepted)", name);
        _values[name] = value;
    }

    /// <summary>Sets a typed value from code (e.g. the number of classes found in the data).</summary>
    public void SetValue(string name, object value)
    {
        var key = ConfigSchema.Find(name) ?? throw new ArgumentException($"unknown config key {name}");
        var ok = key.Kind switch
        {
            ConfigValueKind.Bool => value is bool,
            ConfigValueKind.Int => value is long,
            ConfigValueKind.Float => value is double,
            ConfigValueKind.String => value is string,
            ConfigValueKind.IntList => value is long[],
            ConfigValueKind.FloatList => value is double[],
            ConfigValueKind.StringList => value is string[],
            _ => false,
        };
        if (!ok) throw new ArgumentException($"{name} holds {key.Kind}, not {value.GetType().Name}");
        _values[name] = value;
    }

    private static ConfigException Unknown(string name, string source)
    {
        if (ConfigSchema.IsGroup(name))
            return new ConfigException($"{source}: {name} is a group of keys, not a key; set e.g. {ConfigSchema.Keys.First(k => k.Name.StartsWith(name + ".", StringComparison.Ordinal)).Name}", name);
        return new ConfigException($"{source}: unknown config key {name} (did you mean {ConfigSchema.Closest(name)}?)", name);
    }

    private static IEnumerable<(string Name, object? Raw)> Flatten(IReadOnlyDictionary<string, object?> tree, string prefix, string source)
    {
        foreach (var (k, v) in tree)
        {
            var name = prefix + k;
            if (v is IReadOnlyDictionary<string, object?> child)
            {
                if (ConfigSchema.Find(name) is not null)
                    throw new ConfigException($"{source}: {name} takes a value, not a mapping", name);
                if (!ConfigSchema.IsGroup(name)) throw Unknown(name, source);
                foreach (var item in Flatten(child, name + ".", source)) yield return item;
            }
            else yield return (name, v);
        }
    }

    private static bool SameValue(object a, object b) => (a, b) switch
    {
        (long[] x, long[] y) => x.SequenceEqual(y),
        (double[] x, double[] y) => x.SequenceEqual(y),
        (string[] x, string[] y) => x.SequenceEqual(y),
        _ => a.Equals(b),
    };

    public object this[string name] =>
        _values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"unknown config key {name}");

    public bool Bool(string name) => (bool)this[name];
    public int Int(string name) => checked((int)(long)this[name]);
    public long Long(string name) => (long)this[name];
    public double Float(string name) => (double)this[name];
    public string String(string name) => (string)this[name];
    public int[] Ints(string name) => ((long[])this[name]).Select(v => checked((int)v)).ToArray();
    public double[] Floats(string name) => (double[])this[name];
    public string[] Strings(string name) => (string[])this[name];

    /// <summary>Keys whose value differs from FastReID's default.</summary>
    public IEnumerable<string> ChangedKeys() =>
        ConfigSchema.Keys.Where(k => !SameValue(_values[k.Name], k.Default)).Select(k => k.Name);

    /// <summary>The whole effective config as nested YAML, loadable again by our loader and by FastReID.</summary>
    public string ToYaml()
    {
        var sb = new StringBuilder();
        string[] previous = [];
        foreach (var (name, value) in _values)
        {
            var parts = name.Split('.');
            int common = 0;
            while (common < previous.Length - 1 && common < parts.Length - 1 && previous[common] == parts[common]) common++;
            for (int depth = common; depth < parts.Length - 1; depth++)
                sb.Append(' ', depth * 2).Append(parts[depth]).Append(":\n");
            sb.Append(' ', (parts.Length - 1) * 2).Append(parts[^1]).Append(": ").Append(ConfigValueParser.Format(value)).Append('\n');
            previous = parts;
        }
        return sb.ToString();
    }
}
