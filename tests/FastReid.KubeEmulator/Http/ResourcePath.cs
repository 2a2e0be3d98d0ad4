namespace FastReid.KubeEmulator.Http;

/// <summary>
/// A resource URL split the way the apiserver's RequestInfoFactory does:
/// <c>/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]</c> and the same under
/// <c>/apis/{group}/{version}</c>. <c>/api/v1/namespaces/{name}[/status]</c> addresses a namespace itself.
/// </summary>
internal sealed record ResourcePath(string Group, string Version, string? Namespace, string Resource, string? Name, string? Subresource)
{
    public static ResourcePath? Parse(string path)
    {
        var parts = path.Trim('/').Split('/');
        string group, version;
        int rest;
        if (parts.Length >= 3 && parts[0] == "api") (group, version, rest) = ("", parts[1], 2);
        else if (parts.Length >= 4 && parts[0] == "apis") (group, version, rest) = (parts[1], parts[2], 3);
        else return null;
        var tail = parts[rest..].Select(Uri.UnescapeDataString).ToArray();
        string? ns = null;
        if (tail.Length >= 3 && tail[0] == "namespaces" && !(tail.Length == 3 && tail[2] is "status" or "finalize"))
        {
            ns = tail[1];
            tail = tail[2..];
        }
        return tail.Length switch
        {
            1 => new ResourcePath(group, version, ns, tail[0], null, null),
            2 => new ResourcePath(group, version, ns, tail[0], tail[1], null),
            3 => new ResourcePath(group, version, ns, tail[0], tail[1], tail[2]),
            _ => null,
        };
    }
}
