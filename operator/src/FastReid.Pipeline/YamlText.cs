using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FastReid.Pipeline;

/// <summary>
/// Writes a JSON tree as block YAML, deterministically: objects as indented mappings, arrays as flow
/// sequences, strings plain when YAML would read them back as the same string and JSON-quoted otherwise
/// (a JSON string is a valid YAML double-quoted scalar).
/// </summary>
public static partial class YamlText
{
    private static readonly JsonSerializerOptions Quoting = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.\-/]*$")]
    private static partial Regex PlainSafe();

    [GeneratedRegex(@"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)$")]
    private static partial Regex Reserved();

    public static string Write(JsonObject root)
    {
        var text = new StringBuilder();
        WriteMapping(root, 0, text);
        return text.ToString();
    }

    private static void WriteMapping(JsonObject mapping, int indent, StringBuilder text)
    {
        foreach (var (key, value) in mapping)
        {
            text.Append(' ', indent).Append(Scalar(key)).Append(':');
            if (value is JsonObject { Count: > 0 } child)
            {
                text.Append('\n');
                WriteMapping(child, indent + 2, text);
            }
            else
            {
                text.Append(' ').Append(Flow(value)).Append('\n');
            }
        }
    }

    private static string Flow(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject obj => "{" + string.Join(", ", obj.Select(p => Scalar(p.Key) + ": " + Flow(p.Value))) + "}",
        JsonArray array => "[" + string.Join(", ", array.Select(Flow)) + "]",
        JsonValue value when value.TryGetValue<string>(out var s) => Scalar(s),
        JsonValue value when value.TryGetValue<bool>(out var b) => b ? "true" : "false",
        JsonValue value => Number(value),
        _ => node.ToJsonString(),
    };

    private static string Number(JsonValue value)
    {
        var raw = value.ToJsonString();
        // YAML 1.1 readers take 1e-05 as a string; write exponents with a dot so every reader sees a float.
        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && raw.Contains('e', StringComparison.OrdinalIgnoreCase) && !raw.Contains('.'))
        {
            var exponent = raw.IndexOfAny(['e', 'E']);
            return raw[..exponent] + ".0" + raw[exponent..];
        }
        return raw;
    }

    private static string Scalar(string s) =>
        PlainSafe().IsMatch(s) && !Reserved().IsMatch(s) ? s : JsonSerializer.Serialize(s, Quoting);
}
