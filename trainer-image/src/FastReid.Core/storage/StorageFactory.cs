namespace FastReid.Storage;

/// <summary>Opens the right backend for a location string: <c>s3://</c> goes to S3, everything else to local files.</summary>
public static class StorageFactory
{
    /// <summary>
    /// Opens storage rooted at <paramref name="uri"/> (e.g. OUTPUT_DIR). For s3:// the credentials come from
    /// <see cref="StorageOptions.S3"/> or, when that is null, from the AWS_* environment variables.
    /// </summary>
    public static IStorage Open(string uri, StorageOptions? options = null) => Open(StorageUri.Parse(uri), options);

    public static IStorage Open(StorageUri root, StorageOptions? options = null)
    {
        options ??= new StorageOptions { Retry = RetrySettings.FromEnvironment() };
        if (!root.IsS3) return new LocalStorage(root);
        var settings = options.S3 ?? S3Settings.FromEnvironment(forUri: root.ToString());
        return new S3Storage(root, settings, options);
    }

    /// <summary>
    /// Makes one file available locally (e.g. MODEL.WEIGHTS): a local path is checked and returned as is;
    /// an s3:// object is downloaded atomically into <paramref name="downloadDirectory"/> under its own name.
    /// </summary>
    public static async Task<string> FetchFileAsync(string uri, string downloadDirectory, StorageOptions? options = null,
        CancellationToken ct = default)
    {
        var location = StorageUri.Parse(uri);
        if (!location.IsS3)
        {
            if (!File.Exists(location.LocalPath))
                throw new FastReidException($"'{uri}': no such file");
            return location.LocalPath!;
        }
        var (parent, name) = location.Split();
        using var storage = Open(parent, options);
        var target = Path.Combine(Path.GetFullPath(downloadDirectory), name);
        await storage.GetFileAsync(name, target, ct).ConfigureAwait(false);
        return target;
    }

    /// <summary>
    /// Runs <paramref name="use"/> on a local copy of one file: a local path is passed as it is (the caller names
    /// a missing file in its own terms); an s3:// object is downloaded into a temporary folder that is removed
    /// afterwards.
    /// </summary>
    public static T WithLocalCopy<T>(string uri, Func<string, T> use)
    {
        if (!uri.StartsWith("s3://", StringComparison.Ordinal)) return use(uri);
        var download = Directory.CreateTempSubdirectory("fastreid-fetch-").FullName;
        try
        {
            return use(FetchFileAsync(uri, download).GetAwaiter().GetResult());
        }
        finally
        {
            Directory.Delete(download, recursive: true);
        }
    }
}
