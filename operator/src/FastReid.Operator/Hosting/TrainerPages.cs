namespace FastReid.Operator.Hosting;

/// <summary>
/// The HTTP client that reads trainers' metrics pages: plain HTTP inside the cluster, no credentials, no proxy,
/// no redirects, a short timeout and a small page (a trainer's page is a few KiB).
/// </summary>
public static class TrainerPages
{
    public const long MaxPageBytes = 256 * 1024;

    public static HttpClient Client() => new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(2) })
    {
        Timeout = TimeSpan.FromSeconds(3),
        MaxResponseContentBufferSize = MaxPageBytes,
    };
}
