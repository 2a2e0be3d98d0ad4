using FastReid.Storage;

namespace FastReid.Core.Tests.Storage;

public sealed class StorageUriTests
{
    [Fact]
    public void S3_uri_splits_into_bucket_and_prefix()
    {
        var uri = StorageUri.Parse("s3://models/exp1/run-2/");
        Assert.True(uri.IsS3);
        Assert.Equal("models", uri.Bucket);
        Assert.Equal("exp1/run-2", uri.Prefix);
        Assert.Equal("s3://models/exp1/run-2", uri.ToString());
        Assert.Equal("s3://models/exp1/run-2/checkpoints/a.pth", uri.Combine("checkpoints/a.pth").ToString());
        var (parent, name) = StorageUri.Parse("s3://models/exp1/model.pt").Split();
        Assert.Equal("s3://models/exp1", parent.ToString());
        Assert.Equal("model.pt", name);
    }

    [Fact]
    public void File_uris_and_plain_paths_are_local()
    {
        Assert.Equal("/data/out", StorageUri.Parse("file:///data/out").LocalPath);
        Assert.Equal("/data/my out", StorageUri.Parse("file:///data/my%20out").LocalPath);
        Assert.Equal(Path.GetFullPath("relative/dir"), StorageUri.Parse("relative/dir").LocalPath);
        Assert.False(StorageUri.Parse("/abs").IsS3);
    }

    [Theory]
    [InlineData("gs://bucket/x", "unsupported storage scheme 'gs://'")]
    [InlineData("s3://Bad_Bucket/x", "not a valid S3 bucket name")]
    [InlineData("s3://ab", "not a valid S3 bucket name")]
    [InlineData("s3://bucket/a/../b", "'..' segment")]
    [InlineData("file://host/x", "absolute path")]
    [InlineData("  ", "empty")]
    public void Bad_locations_fail_naming_the_input(string uri, string expected)
    {
        var error = Assert.Throws<FastReidException>(() => StorageUri.Parse(uri));
        Assert.Contains(expected, error.Message);
        if (uri.Trim().Length > 0) Assert.Contains(uri, error.Message);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("a\\b")]
    public void Keys_cannot_leave_their_root(string key)
    {
        var error = Assert.Throws<FastReidException>(() => StorageUri.Parse("/tmp/root").Combine(key));
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void Missing_credentials_name_the_variables_and_the_uri()
    {
        var env = new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = "AKIA" };
        var error = Assert.Throws<FastReidException>(() =>
            StorageFactory.Open("s3://bucket/out", new StorageOptions { S3 = S3Settings.FromEnvironment(env.GetValueOrDefault, "s3://bucket/out") }));
        Assert.Contains("AWS_SECRET_ACCESS_KEY", error.Message);
        Assert.DoesNotContain("AWS_ACCESS_KEY_ID is", error.Message);
        Assert.Contains("s3://bucket/out", error.Message);
    }

    [Fact]
    public void Settings_come_from_the_environment_and_never_print_the_secret()
    {
        var env = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE",
            ["AWS_SECRET_ACCESS_KEY"] = "very-secret-value",
            ["AWS_ENDPOINT_URL"] = "http://minio:9000",
            ["AWS_DEFAULT_REGION"] = "eu-west-1",
            ["AWS_SESSION_TOKEN"] = "secret-session-token",
        };
        var settings = S3Settings.FromEnvironment(env.GetValueOrDefault);
        Assert.Equal(new Uri("http://minio:9000"), settings.Endpoint);
        Assert.Equal("eu-west-1", settings.Region);
        Assert.DoesNotContain("very-secret-value", settings.ToString());
        Assert.DoesNotContain("secret-session-token", settings.ToString());
        Assert.Contains("AKIAEXAMPLE", settings.ToString());
        env["AWS_ENDPOINT_URL"] = "http://minio:9000/path";
        Assert.Contains("no path", Assert.Throws<FastReidException>(() => S3Settings.FromEnvironment(env.GetValueOrDefault)).Message);
    }
}
