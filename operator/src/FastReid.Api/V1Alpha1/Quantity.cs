using System.Globalization;
using System.Text.RegularExpressions;

namespace FastReid.Api.V1Alpha1;

/// <summary>Kubernetes resource quantities (<c>500m</c>, <c>8</c>, <c>32Gi</c>, <c>1e3</c>) as the API server parses them.</summary>
public static partial class Quantity
{
    [GeneratedRegex(@"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")]
    private static partial Regex Syntax();

    private static readonly Dictionary<string, decimal> Suffixes = new(StringComparer.Ordinal)
    {
        [""] = 1m, ["n"] = 1e-9m, ["u"] = 1e-6m, ["m"] = 1e-3m, ["k"] = 1e3m, ["M"] = 1e6m, ["G"] = 1e9m,
        ["T"] = 1e12m, ["P"] = 1e15m, ["E"] = 1e18m, ["Ki"] = 1024m, ["Mi"] = 1048576m, ["Gi"] = 1073741824m,
        ["Ti"] = 1099511627776m, ["Pi"] = 1125899906842624m, ["Ei"] = 1152921504606846976m,
    };

    /// <summary>Parses <paramref name="text"/>; false when it is not a quantity (or too large to represent).</summary>
    public static bool TryParse(string? text, out decimal value)
    {
        value = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var match = Syntax().Match(text);
        if (!match.Success) return false;
        var numberText = match.Groups[1].Value;
        if (text[0] == '-') numberText = "-" + numberText;
        if (!decimal.TryParse(numberText, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)) return false;
        var suffix = match.Groups[3].Value;
        try
        {
            if (Suffixes.TryGetValue(suffix, out var scale)) { value = number * scale; return true; }
            var exponent = int.Parse(suffix[1..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            if (Math.Abs(exponent) > 27) return false;
            value = number * (decimal)Math.Pow(10, exponent);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }
}
