using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using FastReid.Storage;

namespace FastReid.Cli.Tune;

/// <summary>One trial in <c>sweep.json</c>: its budget is the last it was given (a promoted trial's final budget).</summary>
internal sealed record TrialSummary(int Id, JsonObject Params, int Bracket, double Budget, double? Objective, TrialState Status, string? Message, ReidMetrics? Metrics)
{
    public static TrialSummary Of(TrialRecord r) => new(r.Id, (JsonObject)r.Params.DeepClone(), r.Bracket, r.Budget, r.Objective, r.State, r.Message, r.Metrics);
}

/// <summary>The best configuration trained once more on the whole training set and scored on the real test set.</summary>
internal sealed record FinalTest(int Trial, double Budget, string Dir, string Status, ReidMetrics? Metrics, string? Message);

/// <summary>
/// <c>DIR/sweep.json</c>, rewritten atomically after every change: every trial, the incumbent (scored on the
/// validation split), the total budget spent (sum of the trials' budgets), the outcome once there is one, and the
/// test-set metrics of the best configuration when they were measured.
/// </summary>
internal sealed record SweepReport(
    string Name, string Algorithm, ObjectiveSpec Objective, string Phase, SweepOutcome? Outcome,
    TrialSummary? Best, double BudgetSpent, IReadOnlyList<TrialSummary> Trials, FinalTest? Test)
{
    public const string FileName = "sweep.json";

    public void Save(string dir) => AtomicFile.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, TuneJson.Options));

    public static SweepReport Read(string dir) =>
        JsonSerializer.Deserialize<SweepReport>(File.ReadAllText(Path.Combine(dir, FileName)), TuneJson.Options)!;
}

/// <summary>
/// The progress table: one row each time a trial ends a rung (trial, params, budget, state, objective). On a
/// terminal the columns are aligned and long parameter lists shortened; otherwise each row is a plain line with
/// every value, for logs and scripts.
/// </summary>
internal sealed class ProgressTable(TextWriter output, bool terminal)
{
    private const int ParamsWidth = 56;

    public void Header()
    {
        if (terminal) output.WriteLine($"{"trial",5}  {"params",-ParamsWidth}  {"budget",8}  {"state",-9}  {"objective",9}");
    }

    public void Row(TrialRecord r)
    {
        var parameters = r.Params.ToJsonString();
        var objective = r.Objective is { } o ? o.ToString("0.0000", CultureInfo.InvariantCulture) : "-";
        var budget = r.Budget.ToString("0.###", CultureInfo.InvariantCulture);
        if (!terminal)
        {
            output.WriteLine($"trial {r.Id} {r.State} budget {budget} objective {objective} params {parameters}{(r.Message is null ? "" : " — " + r.Message)}");
            return;
        }
        if (parameters.Length > ParamsWidth) parameters = parameters[..(ParamsWidth - 1)] + "…";
        output.WriteLine($"{r.Id,5}  {parameters,-ParamsWidth}  {budget,8}  {r.State,-9}  {objective,9}{(r.Message is null ? "" : "  " + r.Message)}");
    }
}
