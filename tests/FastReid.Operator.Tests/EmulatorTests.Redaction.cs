using System.Text.Json;
using FastReid.Api.V1Alpha1;

namespace FastReid.Operator.Tests;

public sealed partial class EmulatorTests
{
    [Fact]
    public async Task A_credential_in_a_spec_uri_reaches_neither_the_status_nor_an_event()
    {
        const string password = "pw-5e0b27d1-never-shown";
        await Apply("leaky", TwoByFour.Replace("http://minio:9000", $"ftp://alice:{password}@minio:9000", StringComparison.Ordinal));
        var failed = await Eventually(async () => await Read("leaky") is { Status.Phase: Phases.Failed } e ? e : null, "phase Failed");
        var events = await EventsOf("ReidExperiment", "leaky", "InvalidSpec");

        var message = Assert.Single(failed.Status!.Conditions!, c => c.Type == ConditionTypes.InvalidSpec).Message;
        Assert.Contains("spec.output.endpoint", message); // the error still says where
        Assert.Contains("ftp://***@minio:9000", message);
        Assert.DoesNotContain(password, JsonSerializer.Serialize(failed.Status, ApiJson.Options));
        Assert.All(events, e => Assert.DoesNotContain(password, e.Message));
    }
}
