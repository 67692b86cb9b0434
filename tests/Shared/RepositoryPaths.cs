namespace RemoteSupport.Tests;

/// <summary>Where the repository and the public test vectors are, for tests of every project (linked into each).</summary>
internal static class RepositoryPaths
{
    /// <summary>Gets the folder holding RemoteSupport.sln, found upwards from the test binaries.</summary>
    public static string Root()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RemoteSupport.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RemoteSupport.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Gets a vector folder: the one named by <paramref name="environmentVariable"/>, or <c>tests/vectors/&lt;name&gt;</c> in the repository.</summary>
    public static string Vectors(string environmentVariable, string name) =>
        Environment.GetEnvironmentVariable(environmentVariable) is { Length: > 0 } folder
            ? Path.GetFullPath(folder)
            : Path.Combine(Root(), "tests", "vectors", name);
}
