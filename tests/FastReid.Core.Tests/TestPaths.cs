namespace FastReid.Core.Tests;

/// <summary>Locations in the repository, found from the test binary's folder.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Configs => Path.Combine(RepoRoot, "trainer-image", "configs");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastReid.K8s.sln"))) return dir.FullName;
        throw new InvalidOperationException("FastReid.K8s.sln not found above " + AppContext.BaseDirectory);
    }
}
