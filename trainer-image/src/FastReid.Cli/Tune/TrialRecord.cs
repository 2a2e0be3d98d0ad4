using System.Text.Json;
using System.Text.Json.Nodes;
using FastReid.Api.V1Alpha1;
using FastReid.Pipeline.Tune;
using FastReid.Storage;

namespace FastReid.Cli.Tune;

/// <summary>One budget a trial finished: the loss the algorithm sees and the objective the user reads.</summary>
internal sealed record RungRecord(double Budget, double Loss, double Objective);

/// <summary>
/// A trial as <c>DIR/trials/NNNN/trial.json</c> keeps it: everything <see cref="LocalSweep"/> needs to rebuild the
/// algorithm's <see cref="TrialView"/> (params, bracket, budget, state, rung results), as the operator rebuilds it
/// from child ReidExperiments, plus the process running it now (pid and start time, so a tuner started again can
/// end a trial process left by one that was killed). Written atomically after every change.
/// </summary>
internal sealed class TrialRecord
{
    public const string FileName = "trial.json";

    public int Id { get; set; }
    public JsonObject Params { get; set; } = [];
    public int Bracket { get; set; }
    /// <summary>The budget of the current rung, in the budget key's unit (the template's budget when the algorithm gives none).</summary>
    public double Budget { get; set; }
    public TrialState State { get; set; } = TrialState.Running;
    public List<RungRecord> Results { get; set; } = [];
    /// <summary>
    /// Intermediate readings of every rung so far (a black-box trial's <c>{"objective": X, "step": S}</c> lines), as
    /// losses: what the median-stopping rule compares. Readings of a rung that was started again are read again.
    /// </summary>
    public List<Reading> Readings { get; set; } = [];
    public ReidMetrics? Metrics { get; set; }
    public string? Message { get; set; }
    /// <summary>How many times the current rung was started (a restart after the tuner died is another).</summary>
    public int Attempts { get; set; }
    public int? Pid { get; set; }
    /// <summary>The process's start time in clock ticks since boot (/proc/PID/stat), so a reused pid is not mistaken for it.</summary>
    public long? ProcessStart { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }

    public double? Objective => State == TrialState.Succeeded && Results.Count > 0 ? Results[^1].Objective : null;

    public TrialView ToView() => new(Id, TrialParams.FromJson(Params), Bracket, Budget, State,
        [.. Results.Select(r => new RungResult(r.Budget, r.Loss))], [.. Readings]);

    public static string FolderName(int id) => id.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    public void Save(string trialsDir) =>
        AtomicFile.WriteAllText(Path.Combine(trialsDir, FolderName(Id), FileName), JsonSerializer.Serialize(this, TuneJson.Options));

    /// <summary>
    /// Every trial under <paramref name="trialsDir"/>, by id. Ids are 0..n-1 (the shell assigns them in start
    /// order); a gap means the folder was edited by hand, which is refused rather than guessed around.
    /// </summary>
    public static List<TrialRecord> LoadAll(string trialsDir)
    {
        var records = new List<TrialRecord>();
        if (!Directory.Exists(trialsDir)) return records;
        foreach (var dir in Directory.GetDirectories(trialsDir))
        {
            var file = Path.Combine(dir, FileName);
            if (!File.Exists(file)) continue; // created, then the tuner died before the first write: not a trial yet
            try
            {
                records.Add(JsonSerializer.Deserialize<TrialRecord>(File.ReadAllText(file), TuneJson.Options)
                    ?? throw new JsonException("null"));
            }
            catch (JsonException e)
            {
                throw new FastReidException($"{file} is not a trial record ({e.Message}); remove the folder to run that trial again");
            }
        }
        records.Sort((a, b) => a.Id.CompareTo(b.Id));
        for (int i = 0; i < records.Count; i++)
            if (records[i].Id != i)
                throw new FastReidException($"{trialsDir}: trial {i} is missing (found {string.Join(", ", records.Select(r => r.Id))}); trial ids must run from 0 without gaps");
        return records;
    }
}

/// <summary>JSON of the tuner's own files (trial.json, sweep.json): the API's conventions, enums by name, indented for people.</summary>
internal static class TuneJson
{
    public static JsonSerializerOptions Options { get; } = new(ApiJson.Options)
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };
}
