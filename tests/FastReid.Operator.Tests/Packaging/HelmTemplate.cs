using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FastReid.Operator.Tests.Packaging;

/// <summary>
/// Renders the small subset of Helm's template language our chart keeps to, so tests can read what Helm
/// would install (no helm binary here): <c>{{ .Values.a.b }}</c>, <c>{{ .Release.Name }}</c>,
/// <c>{{ .Release.Namespace }}</c>, <c>{{ .Chart.AppVersion }}</c>, <c>{{ if X }}</c> and
/// <c>{{ if eq X "literal" }}</c> with <c>else</c>/<c>end</c>, and <c>{{-</c>/<c>-}}</c> trimming as Go's
/// text/template does. Anything else fails loudly, so a template that grows past this subset fails its test
/// instead of being rendered wrongly. A value missing from values.yaml fails too (Helm would print
/// nothing; here it is almost always a typo).
/// </summary>
internal sealed partial class HelmTemplate
{
    public sealed record Release(string Name, string Namespace);

    private abstract record Node;
    private sealed record Text(string Value) : Node;
    private sealed record Reference(string Path) : Node;
    private sealed record Conditional(string Path, string? EqualTo, List<Node> Then, List<Node> Else) : Node;

    [GeneratedRegex(@"\{\{(-)?\s*(.*?)\s*(-)?\}\}", RegexOptions.Singleline)]
    private static partial Regex Action();

    [GeneratedRegex(@"^\.(Values|Release|Chart)(\.[A-Za-z_][A-Za-z0-9_]*)+$")]
    private static partial Regex PathSyntax();

    [GeneratedRegex("^if\\s+(?:eq\\s+(?<path>\\S+)\\s+\"(?<literal>[^\"]*)\"|(?<path>\\S+))$")]
    private static partial Regex IfSyntax();

    public static string Render(string template, string file, JsonObject values, Release release, JsonObject chart)
    {
        var root = Parse(template, file);
        var context = new JsonObject
        {
            ["Values"] = values.DeepClone(),
            ["Release"] = new JsonObject { ["Name"] = release.Name, ["Namespace"] = release.Namespace },
            ["Chart"] = chart.DeepClone(),
        };
        var output = new StringBuilder();
        Evaluate(root, context, file, output);
        return output.ToString();
    }

    /// <summary>Every <c>.Values.x.y</c> path a template refers to.</summary>
    public static IEnumerable<string> ValuePaths(string template) =>
        Action().Matches(template).Select(m => m.Groups[2].Value)
            .SelectMany(a => a.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(w => w.StartsWith(".Values.", StringComparison.Ordinal));

    private static List<Node> Parse(string template, string file)
    {
        // Tokens first (applying trim markers), then a tree of if/else/end.
        var tokens = new List<(bool IsAction, string Value)>();
        int at = 0;
        bool trimNext = false;
        foreach (Match m in Action().Matches(template))
        {
            var text = template[at..m.Index];
            if (trimNext) text = text.TrimStart(' ', '\t', '\r', '\n');
            if (m.Groups[1].Success) text = text.TrimEnd(' ', '\t', '\r', '\n');
            tokens.Add((false, text));
            tokens.Add((true, m.Groups[2].Value));
            trimNext = m.Groups[3].Success;
            at = m.Index + m.Length;
        }
        var tail = template[at..];
        tokens.Add((false, trimNext ? tail.TrimStart(' ', '\t', '\r', '\n') : tail));

        int position = 0;
        var nodes = ParseBlock(tokens, ref position, file, out var terminator);
        if (terminator is not null) throw new FormatException($"{file}: '{{{{ {terminator} }}}}' without a matching if");
        return nodes;
    }

    private static List<Node> ParseBlock(List<(bool IsAction, string Value)> tokens, ref int position, string file, out string? terminator)
    {
        var nodes = new List<Node>();
        while (position < tokens.Count)
        {
            var (isAction, value) = tokens[position++];
            if (!isAction)
            {
                if (value.Length > 0) nodes.Add(new Text(value));
                continue;
            }
            if (value is "end" or "else")
            {
                terminator = value;
                return nodes;
            }
            if (value.StartsWith("if ", StringComparison.Ordinal))
            {
                var m = IfSyntax().Match(value);
                if (!m.Success || !PathSyntax().IsMatch(m.Groups["path"].Value))
                    throw new NotSupportedException($"{file}: unsupported condition '{{{{ {value} }}}}' (supported: if .Values.x, if eq .Values.x \"literal\")");
                var then = ParseBlock(tokens, ref position, file, out var end);
                var otherwise = new List<Node>();
                if (end == "else") otherwise = ParseBlock(tokens, ref position, file, out end);
                if (end != "end") throw new FormatException($"{file}: '{{{{ {value} }}}}' is never closed with end");
                nodes.Add(new Conditional(m.Groups["path"].Value, m.Groups["literal"].Success ? m.Groups["literal"].Value : null, then, otherwise));
                continue;
            }
            if (!PathSyntax().IsMatch(value))
                throw new NotSupportedException($"{file}: unsupported template action '{{{{ {value} }}}}' (keep templates to .Values/.Release/.Chart references, if/else/end and eq)");
            nodes.Add(new Reference(value));
        }
        terminator = null;
        return nodes;
    }

    private static void Evaluate(List<Node> nodes, JsonObject context, string file, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case Text text:
                    output.Append(text.Value);
                    break;
                case Reference reference:
                    output.Append(Format(Lookup(context, reference.Path, file), reference.Path, file));
                    break;
                case Conditional conditional:
                    var value = Lookup(context, conditional.Path, file);
                    bool holds = conditional.EqualTo is { } literal
                        ? value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String && v.GetValue<string>() == literal
                        : Truthy(value);
                    Evaluate(holds ? conditional.Then : conditional.Else, context, file, output);
                    break;
            }
        }
    }

    private static JsonNode? Lookup(JsonObject context, string path, string file)
    {
        JsonNode? node = context;
        foreach (var part in path.TrimStart('.').Split('.'))
        {
            if (node is not JsonObject obj || !obj.TryGetPropertyValue(part, out var child))
                throw new KeyNotFoundException($"{file}: {path} does not exist (add it to values.yaml, or fix the name)");
            node = child;
        }
        return node;
    }

    /// <summary>Go template truth: false, 0, nil and empty strings or collections are false.</summary>
    private static bool Truthy(JsonNode? node) => node switch
    {
        null => false,
        JsonObject obj => obj.Count > 0,
        JsonArray array => array.Count > 0,
        JsonValue v => v.GetValueKind() switch
        {
            System.Text.Json.JsonValueKind.False => false,
            System.Text.Json.JsonValueKind.String => v.GetValue<string>().Length > 0,
            System.Text.Json.JsonValueKind.Number => double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture) != 0,
            _ => true,
        },
        _ => true,
    };

    private static string Format(JsonNode? node, string path, string file) => node switch
    {
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => v.GetValue<string>(),
        JsonValue v => v.ToJsonString(), // numbers and booleans print as Go prints them
        null => throw new NotSupportedException($"{file}: {path} is null; Helm would print '<no value>'"),
        _ => throw new NotSupportedException($"{file}: {path} is a map or list; render it field by field"),
    };
}
