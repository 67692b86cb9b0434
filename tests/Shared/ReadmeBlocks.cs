namespace RemoteSupport.Tests;

/// <summary>Reads a C# block of the README and the matching region of a test file, so a test can compare them line by line.</summary>
internal static class ReadmeBlocks
{
    /// <summary>Reads the first <c>csharp</c> block after <paramref name="marker"/>: its using directives, its statements and its type declarations.</summary>
    public static (string[] Imports, string[] Statements, string[] Classes) Read(string marker)
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root(), "README.md")).ReplaceLineEndings("\n");
        int at = readme.IndexOf(marker, StringComparison.Ordinal);
        at.Should().BePositive($"the README marks {marker}");
        int start = readme.IndexOf("```csharp\n", at, StringComparison.Ordinal) + "```csharp\n".Length;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        string[] lines = readme[start..end].TrimEnd('\n').Split('\n');
        // The using directives are the block's first lines (a using declaration further down is a statement).
        string[] imports = lines.TakeWhile(l => l.StartsWith("using ", StringComparison.Ordinal) && !l.StartsWith("using var ", StringComparison.Ordinal)).ToArray();
        string[] rest = lines.Skip(imports.Length).SkipWhile(string.IsNullOrEmpty).ToArray();
        int classStart = Array.FindIndex(rest, l => l.StartsWith("sealed class ", StringComparison.Ordinal));
        return classStart < 0
            ? (imports, rest, [])
            : (imports, rest[..classStart].Reverse().SkipWhile(string.IsNullOrEmpty).Reverse().ToArray(), rest[classStart..]);
    }

    /// <summary>Reads the lines of <paramref name="sourceFile"/> (relative to the repository) between two marker comments, less <paramref name="indent"/> columns.</summary>
    public static string[] Between(string sourceFile, string begin, string end, int indent)
    {
        string source = Source(sourceFile);
        int from = source.IndexOf(begin + "\n", StringComparison.Ordinal) + begin.Length + 1;
        int to = source.IndexOf(end, from, StringComparison.Ordinal);
        to = source.LastIndexOf('\n', to) + 1;
        return source[from..to].TrimEnd('\n').Split('\n').Select(line => line.Length >= indent ? line[indent..] : line.TrimStart()).ToArray();
    }

    /// <summary>Asserts that <paramref name="sourceFile"/> has each of the README block's using directives.</summary>
    public static void ImportsInclude(string sourceFile, string[] imports)
    {
        string source = Source(sourceFile);
        foreach (string import in imports)
        {
            source.Should().Contain(import + "\n");
        }
    }

    private static string Source(string sourceFile) =>
        File.ReadAllText(Path.Combine(RepositoryPaths.Root(), sourceFile)).ReplaceLineEndings("\n");
}
