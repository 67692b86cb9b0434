using RemoteSupport.Fuzz;
using RemoteSupport.Tests;

namespace RemoteSupport.Transport.Tests.Fuzz;

/// <summary>
/// Every committed fuzz input (the seed corpus, and each crash a fuzz run found, kept under fuzz/regressions/TARGET)
/// run through its target in-process: the parser refuses bad input with its documented refusal, never anything else.
/// </summary>
public sealed class FuzzCorpusTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string kind in new[] { "corpus", "regressions" })
        {
            string folder = Path.Combine(RepositoryPaths.Root(), "fuzz", kind);
            if (!Directory.Exists(folder))
            {
                continue;
            }

            foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string target = Path.GetFileName(Path.GetDirectoryName(file)!);
                data.Add(target, Path.GetRelativePath(RepositoryPaths.Root(), file));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void ACommittedInput_IsRefusedOrAccepted_NeverCrashesItsTarget(string target, string input)
    {
        Targets.All.Should().ContainKey(target, "every corpus folder is named after a target");
        byte[] bytes = File.ReadAllBytes(Path.Combine(RepositoryPaths.Root(), input));

        Action run = () => Targets.All[target](bytes);

        run.Should().NotThrow();
    }

    [Fact]
    public void EveryTarget_HasASeedCorpus()
    {
        string corpus = Path.Combine(RepositoryPaths.Root(), "fuzz", "corpus");

        Targets.All.Keys.Should().OnlyContain(t => Directory.Exists(Path.Combine(corpus, t)) && Directory.EnumerateFiles(Path.Combine(corpus, t)).Any());
    }
}
