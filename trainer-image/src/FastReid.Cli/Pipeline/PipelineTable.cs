using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;

namespace FastReid.Cli.Pipeline;

/// <summary>
/// What <c>kubectl get</c> prints for each kind, from the state folder: one table per kind, NAME and the kind's printer
/// columns (the CRD's additionalPrinterColumns, priority 0; the same attributes the CRDs are generated from), the age
/// as kubectl writes it.
/// </summary>
internal static class PipelineTable
{
    public static void Write(LocalCluster cluster, TextWriter output, DateTimeOffset now)
    {
        bool first = true;
        foreach (var kind in ResourceKinds.All)
        {
            var items = cluster.All<ICustomResource>().Where(r => r.GetType() == kind.Type)
                .OrderBy(r => r.Metadata.Namespace, StringComparer.Ordinal).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal).ToList();
            if (items.Count == 0) continue;
            if (!first) output.WriteLine();
            first = false;
            var columns = Columns(kind.Type);
            var rows = new List<string[]> { new[] { $"NAME ({kind.Kind})" }.Concat(columns.Select(c => c.Name.ToUpperInvariant())).ToArray() };
            rows.AddRange(items.Select(r => new[] { r.Metadata.Name ?? "" }.Concat(columns.Select(c => Cell(r, c, now))).ToArray()));
            var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
            foreach (var row in rows)
                output.WriteLine(string.Join("   ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }
        if (first) output.WriteLine($"no resources in {cluster.Dir}");
    }

    /// <summary>The numeric columns that have values, as "mAP 0.52, Rank-1 0.61" (for progress lines).</summary>
    public static string Headline(ICustomResource resource) =>
        string.Join(", ", Columns(resource.GetType()).Where(c => c.Type is "number")
            .Select(c => (c.Name, Value: Cell(resource, c, DateTimeOffset.UtcNow))).Where(c => c.Value.Length > 0).Select(c => $"{c.Name} {c.Value}"));

    private static List<PrinterColumnAttribute> Columns(Type type) =>
        [.. type.GetCustomAttributes<PrinterColumnAttribute>().Where(c => c.Priority == 0)];

    private static string Cell(ICustomResource resource, PrinterColumnAttribute column, DateTimeOffset now)
    {
        JsonNode? node = JsonNode.Parse(JsonSerializer.Serialize(resource, resource.GetType(), ApiJson.Options));
        foreach (var part in column.JsonPath.TrimStart('.').Split('.')) node = node is JsonObject o ? o[part] : null;
        if (node is not JsonValue value) return "";
        return column.Type switch
        {
            "date" when value.TryGetValue<DateTimeOffset>(out var time) => Age(now - time),
            "number" when value.TryGetValue<double>(out var number) => number.ToString(Math.Abs(number) is > 0 and < 0.001 ? "0.##e+0" : "0.####", CultureInfo.InvariantCulture),
            _ => value.ToString(),
        };
    }

    /// <summary>kubectl's age: 45s, 12m, 3h, 2d.</summary>
    public static string Age(TimeSpan age) => age switch
    {
        { TotalSeconds: < 0 } => "0s",
        { TotalMinutes: < 2 } => $"{(int)age.TotalSeconds}s",
        { TotalHours: < 2 } => $"{(int)age.TotalMinutes}m",
        { TotalDays: < 2 } => $"{(int)age.TotalHours}h",
        _ => $"{(int)age.TotalDays}d",
    };
}
