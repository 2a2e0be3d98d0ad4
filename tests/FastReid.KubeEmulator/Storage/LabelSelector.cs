using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FastReid.KubeEmulator.Storage;

/// <summary>
/// A label selector in the string form of the API (<c>a=b,c!=d,e in (f,g),h notin (i),j,!k</c>) or built
/// from a LabelSelector object (matchLabels + matchExpressions). All requirements must hold.
/// </summary>
internal sealed partial class LabelSelector
{
    enum Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist }

    sealed record Requirement(string Key, Op Op, IReadOnlyList<string> Values);

    readonly List<Requirement> _requirements = [];

    public static readonly LabelSelector Everything = new();

    public bool IsEmpty => _requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels) => _requirements.All(r => r.Op switch
    {
        Op.Equals => labels.TryGetValue(r.Key, out var v) && v == r.Values[0],
        Op.NotEquals => !labels.TryGetValue(r.Key, out var v) || v != r.Values[0],
        Op.In => labels.TryGetValue(r.Key, out var v) && r.Values.Contains(v),
        Op.NotIn => !labels.TryGetValue(r.Key, out var v) || !r.Values.Contains(v),
        Op.Exists => labels.ContainsKey(r.Key),
        Op.DoesNotExist => !labels.ContainsKey(r.Key),
        _ => false,
    });

    /// <summary>Parses the query-string form; throws 400 BadRequest with the apiserver's wording on bad syntax.</summary>
    public static LabelSelector Parse(string? text)
    {
        var selector = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        foreach (var part in SplitTopLevel(text))
        {
            var p = part.Trim();
            if (p.Length == 0) throw Bad(text, "found '', expected: identifier");
            Match m;
            if ((m = SetPattern().Match(p)).Success)
            {
                var values = m.Groups["values"].Value.Split(',').Select(v => v.Trim()).Where(v => v.Length > 0).ToList();
                if (values.Count == 0) throw Bad(text, "for 'in', 'notin' operators, values set can't be empty");
                foreach (var v in values) CheckValue(text, v);
                selector.Add(text, m.Groups["key"].Value, m.Groups["op"].Value == "in" ? Op.In : Op.NotIn, values);
            }
            else if ((m = EqualityPattern().Match(p)).Success)
            {
                var value = m.Groups["value"].Value.Trim();
                CheckValue(text, value);
                selector.Add(text, m.Groups["key"].Value.Trim(), m.Groups["op"].Value == "!=" ? Op.NotEquals : Op.Equals, [value]);
            }
            else if (p.StartsWith('!')) selector.Add(text, p[1..].Trim(), Op.DoesNotExist, []);
            else selector.Add(text, p, Op.Exists, []);
        }
        return selector;
    }

    /// <summary>Builds a selector from a metav1.LabelSelector object (as in Job.spec.selector).</summary>
    public static LabelSelector FromObject(JsonObject? obj)
    {
        var selector = new LabelSelector();
        if (obj is null) return selector;
        foreach (var (k, v) in Meta.StringMap(obj["matchLabels"]))
            selector._requirements.Add(new Requirement(k, Op.Equals, [v]));
        foreach (var e in (obj["matchExpressions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var op = Meta.Str(e["operator"]) switch
            {
                "In" => Op.In, "NotIn" => Op.NotIn, "Exists" => Op.Exists, "DoesNotExist" => Op.DoesNotExist,
                var other => throw ApiException.BadRequest($"\"{other}\" is not a valid label selector operator"),
            };
            var values = (e["values"] as JsonArray ?? []).Select(Meta.Str).ToList();
            selector._requirements.Add(new Requirement(Meta.Str(e["key"]), op, values));
        }
        return selector;
    }

    void Add(string text, string key, Op op, IReadOnlyList<string> values)
    {
        if (!KeyPattern().IsMatch(key)) throw Bad(text, $"invalid label key \"{key}\"");
        _requirements.Add(new Requirement(key, op, values));
    }

    static void CheckValue(string text, string value)
    {
        if (value.Length > 0 && !ValuePattern().IsMatch(value)) throw Bad(text, $"invalid label value: \"{value}\"");
    }

    static ApiException Bad(string text, string why) => ApiException.BadRequest($"unable to parse requirement: {why} (in selector \"{text}\")");

    /// <summary>Splits on commas that are not inside a parenthesised value set.</summary>
    static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')') depth--;
            else if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }

    [GeneratedRegex(@"^\s*(?<key>[^\s!=(),]+)\s+(?<op>in|notin)\s*\((?<values>[^)]*)\)\s*$")]
    private static partial Regex SetPattern();

    [GeneratedRegex(@"^(?<key>[^!=]+?)\s*(?<op>==|!=|=)\s*(?<value>.*)$")]
    private static partial Regex EqualityPattern();

    [GeneratedRegex(@"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex KeyPattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex ValuePattern();
}
