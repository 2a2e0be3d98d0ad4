using FastReid.Api.V1Alpha1;

namespace FastReid.Api.Tests;

/// <summary>The one redaction every printed line, log file, status and Event passes through.</summary>
public sealed class RedactionTests
{
    [Theory]
    [InlineData("bucket missing at http://alice:hunter2@minio:9000", "bucket missing at http://***@minio:9000")]
    [InlineData("'https://token-only@host/x'", "'https://***@host/x'")]
    [InlineData("GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F2024&X-Amz-Signature=abc123 failed",
        "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=***&X-Amz-Signature=*** failed")]
    [InlineData("env AWS_SECRET_ACCESS_KEY=abc/def AWS_SESSION_TOKEN=xyz", "env AWS_SECRET_ACCESS_KEY=*** AWS_SESSION_TOKEN=***")]
    [InlineData("s3://bucket/prefix/model.pth and user@example.com stay", "s3://bucket/prefix/model.pth and user@example.com stay")]
    public void Url_credentials_signatures_and_secret_assignments_are_masked(string text, string expected) =>
        Assert.Equal(expected, Redactor.Patterns.Redact(text));

    [Fact]
    public void Secret_variables_values_are_masked_wherever_they_appear_and_others_are_not()
    {
        var redactor = Redactor.ForVariables(new Dictionary<string, string?>
        {
            ["AWS_SECRET_ACCESS_KEY"] = "very-secret-value",
            ["AWS_SESSION_TOKEN"] = "session-token-value",
            ["AWS_ENDPOINT_URL"] = "http://alice:p%40ss-word@minio:9000",
            ["DB_PASSWORD"] = "pw-value",
            ["AWS_ACCESS_KEY_ID"] = "AKIAPUBLIC",
            ["FASTREID_DATASETS"] = "/data",
            ["GITHUB_TOKEN"] = "x", // too short to search for
        });
        var text = "key very-secret-value, token session-token-value, p@ss-word, pw-value; AKIAPUBLIC in /data: x";
        Assert.Equal("key ***, token ***, ***, ***; AKIAPUBLIC in /data: x", redactor.Redact(text));
    }

    [Fact]
    public void A_writer_masks_a_secret_split_across_writes_of_one_line()
    {
        var inner = new StringWriter();
        using var writer = new RedactingWriter(inner, new Redactor(["split-secret"]));
        writer.Write("a split-");
        writer.Write("secret here");
        writer.WriteLine(" and http://u:p@h");
        writer.Flush();
        Assert.Equal("a *** here and http://***@h" + Environment.NewLine, inner.ToString());
    }

    [Fact]
    public void Condition_messages_are_stored_masked()
    {
        var set = Conditions.Set(null, new Condition { Type = "Failed", Status = "True", Message = "at http://a:b@h:1" }, DateTimeOffset.UnixEpoch);
        Assert.Equal("at http://***@h:1", Assert.Single(set).Message);
    }
}
