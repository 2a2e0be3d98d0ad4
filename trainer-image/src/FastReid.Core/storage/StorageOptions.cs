namespace FastReid.Storage;

/// <summary>How storage is opened: S3 connection settings, retry behaviour and where notes go.</summary>
public sealed record StorageOptions
{
    /// <summary>S3 connection; null reads <see cref="S3Settings.FromEnvironment"/> when an s3:// location is opened.</summary>
    public S3Settings? S3 { get; init; }

    public RetrySettings Retry { get; init; } = new();

    /// <summary>Receives one line per retry or skipped item. Never given credentials.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>Transient-fault retries: exponential backoff with jitter, and a time limit per attempt.</summary>
public sealed record RetrySettings
{
    /// <summary>
    /// Retries after the first attempt. Generous because Minio 7 retries a multipart upload as a whole:
    /// a 45 MB checkpoint is ~5 requests, so on a network failing a fifth of requests an attempt
    /// succeeds only a third of the time, and 8 retries would still lose a checkpoint now and then.
    /// </summary>
    public int MaxRetries { get; init; } = 20;

    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// One attempt (one request, or one whole multipart upload) that takes longer than this counts as a
    /// transient fault: a connection that stalls without being reset is abandoned and retried.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The defaults, with <c>FASTREID_S3_ATTEMPT_TIMEOUT</c> (seconds) and <c>FASTREID_S3_MAX_RETRIES</c>
    /// applied when set: slow links with huge checkpoints want a longer attempt, tests a shorter one.
    /// </summary>
    public static RetrySettings FromEnvironment()
    {
        var settings = new RetrySettings();
        if (Read("FASTREID_S3_ATTEMPT_TIMEOUT") is { } seconds) settings = settings with { AttemptTimeout = TimeSpan.FromSeconds(seconds) };
        if (Read("FASTREID_S3_MAX_RETRIES") is { } retries) settings = settings with { MaxRetries = retries };
        return settings;

        static int? Read(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
            ? int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
                ? n : throw new FastReidException($"environment variable {name}='{v}' is not a positive integer")
            : null;
    }
}

/// <summary>
/// Credentials and endpoint for S3-compatible storage. The secret never appears in
/// <see cref="ToString"/>, in log lines or in error messages.
/// </summary>
public sealed class S3Settings
{
    public S3Settings(string accessKey, string secretKey, Uri? endpoint = null, string? region = null, string? sessionToken = null)
    {
        if (string.IsNullOrEmpty(accessKey) || string.IsNullOrEmpty(secretKey))
            throw new FastReidException("S3 credentials are incomplete: both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are needed");
        if (endpoint is not null && (!endpoint.IsAbsoluteUri || endpoint.Scheme is not ("http" or "https")
                                     || endpoint.AbsolutePath.Trim('/').Length > 0))
            throw new FastReidException($"AWS_ENDPOINT_URL '{Redactor.Patterns.Redact(endpoint.ToString())}' must be http(s)://host[:port] with no path");
        AccessKey = accessKey;
        SecretKey = secretKey;
        Endpoint = endpoint;
        Region = string.IsNullOrEmpty(region) ? "us-east-1" : region;
        SessionToken = string.IsNullOrEmpty(sessionToken) ? null : sessionToken;
    }

    public string AccessKey { get; }

    internal string SecretKey { get; }

    /// <summary>Temporary credentials' token (AWS_SESSION_TOKEN), if any; as secret as the key.</summary>
    internal string? SessionToken { get; }

    /// <summary>A custom endpoint (MinIO, s3rver, Ceph...), addressed path-style; null for AWS S3 itself.</summary>
    public Uri? Endpoint { get; }

    public string Region { get; }

    /// <summary>The endpoint as messages name it: without the user information a URL may carry.</summary>
    public string EndpointDescription => Endpoint is null ? "AWS S3" : Redactor.Patterns.Redact(Endpoint.ToString().TrimEnd('/'));

    /// <summary>
    /// Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), AWS_ENDPOINT_URL
    /// and AWS_REGION (then AWS_DEFAULT_REGION). <paramref name="getVariable"/> defaults to the process environment.
    /// </summary>
    public static S3Settings FromEnvironment(Func<string, string?>? getVariable = null, string? forUri = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        var access = getVariable("AWS_ACCESS_KEY_ID");
        var secret = getVariable("AWS_SECRET_ACCESS_KEY");
        var missing = new[] { ("AWS_ACCESS_KEY_ID", access), ("AWS_SECRET_ACCESS_KEY", secret) }
            .Where(v => string.IsNullOrEmpty(v.Item2)).Select(v => v.Item1).ToList();
        if (missing.Count > 0)
            throw new FastReidException(
                $"{(forUri is null ? "S3 storage" : $"'{forUri}'")} needs credentials: {string.Join(" and ", missing)} {(missing.Count == 1 ? "is" : "are")} not set " +
                "(set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for S3-compatible servers, AWS_ENDPOINT_URL)");
        var endpointText = getVariable("AWS_ENDPOINT_URL");
        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(endpointText)
            && !Uri.TryCreate(endpointText.Trim(), UriKind.Absolute, out endpoint))
            throw new FastReidException($"AWS_ENDPOINT_URL '{Redactor.Patterns.Redact(endpointText)}' is not an absolute http(s) URL");
        var region = getVariable("AWS_REGION");
        if (string.IsNullOrEmpty(region)) region = getVariable("AWS_DEFAULT_REGION");
        return new S3Settings(access!, secret!, endpoint, region, getVariable("AWS_SESSION_TOKEN"));
    }

    public override string ToString() => $"S3Settings(endpoint={EndpointDescription}, region={Region}, accessKey={AccessKey}, secretKey=***{(SessionToken is null ? "" : ", sessionToken=***")})";
}
