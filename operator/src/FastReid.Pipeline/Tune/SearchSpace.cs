using System.Globalization;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Config;

namespace FastReid.Pipeline.Tune;

/// <summary>How a search dimension draws its values (the CRD's <c>searchSpace[*].type</c>).</summary>
public enum DimensionKind { Uniform, LogUniform, QUniform, RandInt, Choice, Fixed }

/// <summary>
/// One dimension of a search space, keyed by its FastReID config key. Every algorithm works in the unit cube:
/// <see cref="Decode"/> maps u in [0, 1) to a value and <see cref="Encode"/> maps a value back to the centre of
/// its cell (for choice and randint: cell i of n is [i/n, (i+1)/n)). Choice dimensions have no order;
/// model-based algorithms give them a categorical kernel (ParzenEstimator.CategoriesOf).
/// </summary>
public sealed record Dimension(string Key, DimensionKind Kind, double Min, double Max, double? Step, IReadOnlyList<JsonNode?> Values, ConfigValueKind ValueKind)
{
    /// <summary>Number of distinct values (choice, randint, quniform, fixed); null for continuous dimensions.</summary>
    public int? Cardinality => Kind switch
    {
        DimensionKind.Choice => Values.Count,
        DimensionKind.Fixed => 1,
        DimensionKind.RandInt => (int)(Math.Floor(Max) - Math.Ceiling(Min)) + 1,
        DimensionKind.QUniform => (int)Math.Floor((Max - Min) / Step!.Value + 1e-9) + 1,
        _ => null,
    };

    /// <summary>The value at unit coordinate <paramref name="u"/> (clamped into [0, 1)).</summary>
    public JsonNode? Decode(double u)
    {
        u = Math.Clamp(u, 0.0, Math.BitDecrement(1.0));
        switch (Kind)
        {
            case DimensionKind.Fixed: return Values[0]?.DeepClone();
            case DimensionKind.Choice: return Values[(int)(u * Values.Count)]?.DeepClone();
            case DimensionKind.RandInt: return Number(Math.Ceiling(Min) + (int)(u * Cardinality!.Value));
            case DimensionKind.QUniform: return Number(Min + Step!.Value * (int)(u * Cardinality!.Value));
            case DimensionKind.LogUniform: return Number(Math.Exp(Math.Log(Min) + u * (Math.Log(Max) - Math.Log(Min))));
            default: return Number(Min + u * (Max - Min));
        }
    }

    /// <summary>The unit coordinate of <paramref name="value"/>: the centre of its cell for discrete dimensions.</summary>
    public double Encode(JsonNode? value)
    {
        switch (Kind)
        {
            case DimensionKind.Fixed: return 0.5;
            case DimensionKind.Choice:
                for (int i = 0; i < Values.Count; i++)
                    if (JsonNode.DeepEquals(Values[i], value)) return (i + 0.5) / Values.Count;
                throw new ArgumentException($"{Key}: {value?.ToJsonString()} is not one of the choices");
        }
        // A number as written (an in-memory long or double, or parsed JSON): its JSON text reads as a double either way.
        if (value is not JsonValue number || number.GetValueKind() != System.Text.Json.JsonValueKind.Number)
            throw new ArgumentException($"{Key}: {value?.ToJsonString() ?? "null"} is not a number");
        double x = double.Parse(number.ToJsonString(), CultureInfo.InvariantCulture);
        switch (Kind)
        {
            case DimensionKind.RandInt: return (x - Math.Ceiling(Min) + 0.5) / Cardinality!.Value;
            case DimensionKind.QUniform: return (Math.Round((x - Min) / Step!.Value) + 0.5) / Cardinality!.Value;
            case DimensionKind.LogUniform: return (Math.Log(x) - Math.Log(Min)) / (Math.Log(Max) - Math.Log(Min));
            default: return (x - Min) / (Max - Min);
        }
    }

    /// <summary>A number as the config key's kind wants it: integers for int keys, doubles rounded to 12 significant digits otherwise.</summary>
    private JsonNode Number(double x) => ValueKind == ConfigValueKind.Int
        ? JsonValue.Create((long)Math.Round(x))
        : JsonValue.Create(double.Parse(x.ToString("G12", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
}

/// <summary>
/// A TuneSweep's search space: its dimensions in ordinal key order (so a point's coordinates never depend on
/// the order the manifest wrote them in). Built by <see cref="Parse"/>, which checks every key against the
/// FastReID config schema.
/// </summary>
public sealed class SearchSpace
{
    public IReadOnlyList<Dimension> Dimensions { get; }

    public SearchSpace(IReadOnlyList<Dimension> dimensions) =>
        Dimensions = [.. dimensions.OrderBy(d => d.Key, StringComparer.Ordinal)];

    /// <summary>The values at a point of the unit cube (one coordinate per dimension, in <see cref="Dimensions"/> order).</summary>
    public TrialParams Decode(IReadOnlyList<double> point)
    {
        if (point.Count != Dimensions.Count) throw new ArgumentException($"a point of {Dimensions.Count} coordinates expected, got {point.Count}");
        return new TrialParams(Dimensions.Select((d, i) => KeyValuePair.Create(d.Key, d.Decode(point[i]))));
    }

    /// <summary>The unit-cube point of <paramref name="values"/> (discrete values at their cells' centres).</summary>
    public double[] Encode(TrialParams values) => [.. Dimensions.Select(d => d.Encode(values[d.Key]))];

    /// <summary>A uniform draw over the cube, decoded.</summary>
    public TrialParams Sample(Random random) => Decode([.. Dimensions.Select(_ => random.NextDouble())]);

    /// <summary>
    /// The search space of a sweep spec; problems are added to <paramref name="errors"/> under
    /// <c>spec.searchSpace["KEY"]</c> (a key the schema does not know, with the closest one; a key FastReID has
    /// that we do not implement; a type that does not fit the key's kind) and null is returned when there are any.
    /// </summary>
    public static SearchSpace? Parse(IReadOnlyDictionary<string, SearchParameter> parameters, List<FieldError> errors, string path = "spec.searchSpace")
    {
        int before = errors.Count;
        var dimensions = new List<Dimension>();
        foreach (var (key, p) in parameters)
        {
            var where = $"{path}[\"{key}\"]";
            if (ConfigSchema.Find(key) is not { } schema)
            {
                errors.Add(new(where, $"'{key}' is not a FastReID config key (closest: {ConfigSchema.Closest(key)})"));
                continue;
            }
            if (!schema.Supported)
            {
                errors.Add(new(where, $"'{key}' is a FastReID key this trainer does not implement yet, so it cannot be searched"));
                continue;
            }
            var kind = p.Type switch
            {
                "uniform" => DimensionKind.Uniform,
                "loguniform" => DimensionKind.LogUniform,
                "quniform" => DimensionKind.QUniform,
                "randint" => DimensionKind.RandInt,
                "choice" => DimensionKind.Choice,
                "fixed" => DimensionKind.Fixed,
                _ => (DimensionKind?)null,
            };
            if (kind is null) { errors.Add(new($"{where}.type", $"must be one of uniform, loguniform, quniform, randint, choice, fixed; got '{p.Type}'")); continue; }
            bool numeric = schema.Kind is ConfigValueKind.Int or ConfigValueKind.Float;
            if (kind is not (DimensionKind.Choice or DimensionKind.Fixed) && !numeric)
            {
                errors.Add(new($"{where}.type", $"{p.Type} draws numbers, but {key} is a {schema.Kind} key: use choice"));
                continue;
            }
            if (kind is DimensionKind.Uniform or DimensionKind.LogUniform && schema.Kind == ConfigValueKind.Int)
            {
                errors.Add(new($"{where}.type", $"{key} is an integer key: use randint or quniform (with an integer step), or choice"));
                continue;
            }
            if (kind == DimensionKind.QUniform && schema.Kind == ConfigValueKind.Int && p.Step is { } s && s != Math.Round(s))
            {
                errors.Add(new($"{where}.step", $"{key} is an integer key, so the step must be an integer, got {s.ToString(CultureInfo.InvariantCulture)}"));
                continue;
            }
            if (kind == DimensionKind.Fixed && p.Values is not { Count: 1 })
            {
                errors.Add(new($"{where}.values", "fixed takes exactly one value (values: [X])"));
                continue;
            }
            if (kind == DimensionKind.RandInt && Math.Floor(p.Max ?? 0) < Math.Ceiling(p.Min ?? 0))
            {
                errors.Add(new($"{where}.max", "randint needs an integer between min and max"));
                continue;
            }
            if (kind is DimensionKind.Choice or DimensionKind.Fixed)
            {
                for (int i = 0; i < (p.Values?.Count ?? 0); i++)
                    if (!Fits(schema, p.Values![i]))
                        errors.Add(new($"{where}.values[{i}]", $"{p.Values[i]?.ToJsonString() ?? "null"} is not a {schema.Kind} value for {key}"));
                if (p.Values is { } vs && vs.Count != vs.Select(v => v?.ToJsonString()).Distinct(StringComparer.Ordinal).Count())
                    errors.Add(new($"{where}.values", "lists a value twice"));
            }
            if (kind is not (DimensionKind.Choice or DimensionKind.Fixed) && schema.EffectiveRange is { } range)
            {
                // The trainer refuses a value outside the key's range: a trial drawn there would only fail.
                foreach (var (bound, value) in new[] { ("min", p.Min), ("max", p.Max) })
                    if (value is { } v && !range.Contains(v))
                        errors.Add(new($"{where}.{bound}", $"{key} must be {range}, got {v.ToString("R", CultureInfo.InvariantCulture)}"));
            }
            dimensions.Add(new Dimension(key, kind.Value, p.Min ?? 0, p.Max ?? 0, p.Step, p.Values ?? [], schema.Kind));
        }
        return errors.Count > before ? null : new SearchSpace(dimensions);
    }

    private static bool Fits(ConfigKey key, JsonNode? value)
    {
        if (value is null) return false;
        try
        {
            // The same reading a config value gets in spec.config.
            var raw = ConfigTree.FromJson(new JsonObject { ["v"] = value.DeepClone() }, "searchSpace")["v"];
            ConfigValueParser.Parse(key, raw, "searchSpace");
            return true;
        }
        catch (ConfigException) { return false; }
    }
}

/// <summary>A trial's sampled values by config key, kept in ordinal key order; compared and hashed by their canonical JSON.</summary>
public sealed class TrialParams : IEquatable<TrialParams>
{
    private readonly SortedDictionary<string, JsonNode?> _values = new(StringComparer.Ordinal);

    public TrialParams(IEnumerable<KeyValuePair<string, JsonNode?>> values)
    {
        foreach (var (k, v) in values) _values[k] = v?.DeepClone();
    }

    public JsonNode? this[string key] => _values[key]?.DeepClone();
    public IEnumerable<string> Keys => _values.Keys;
    public int Count => _values.Count;

    public JsonObject ToJson() => new(_values.Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.DeepClone())));

    public static TrialParams FromJson(JsonObject json) => new(json.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)));

    /// <summary>The canonical JSON (ordinal key order, no spaces): the identity of a configuration.</summary>
    public override string ToString() => ToJson().ToJsonString();

    public bool Equals(TrialParams? other) => other is not null && ToString() == other.ToString();
    public override bool Equals(object? obj) => Equals(obj as TrialParams);
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());
}
