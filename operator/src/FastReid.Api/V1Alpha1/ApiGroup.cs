namespace FastReid.Api.V1Alpha1;

/// <summary>The API group and version of every FastReid.K8s kind.</summary>
public static class ApiGroup
{
    public const string Group = "fastreid.io";
    public const string Version = "v1alpha1";
    public const string ApiVersion = Group + "/" + Version;
}

/// <summary>The phase every kind reports in <c>status.phase</c>.</summary>
public static class Phases
{
    public const string Pending = "Pending";
    public const string Running = "Running";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";

    public static bool IsFinished(string? phase) => phase is Succeeded or Failed;
}
