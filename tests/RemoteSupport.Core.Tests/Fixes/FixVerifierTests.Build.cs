using RemoteSupport.Fixes;

namespace RemoteSupport.Tests.Fixes;

/// <summary>What the package builder refuses to build, and what it takes from its template and the source folder.</summary>
public sealed partial class FixVerifierTests
{
    private string Source => Path.Combine(_folder.Path, "source");

    [Fact]
    public async Task Build_RefusesNullArguments()
    {
        string package = Path.Combine(_folder.Path, "null.rsfix");

        await FluentActions.Awaiting(() => FixPackage.BuildAsync(Source, null!, [_release[0]], package)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("template");
        await FluentActions.Awaiting(() => FixPackage.BuildAsync(Source, Template(), null!, package)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("releaseKeys");
        File.Exists(package).Should().BeFalse();
    }

    [Theory]
    [InlineData("two", "2.0.0", "3.0.0", "Version 'two' is not a SemVer 2.0 version (e.g. 2.4.0).")]
    [InlineData("2.4.0", "2.0", "3.0.0", "AppliesTo.MinVersion '2.0' is not a SemVer 2.0 version (e.g. 2.4.0).")]
    [InlineData("2.4.0", "2.0.0", "3", "AppliesTo.MaxVersion '3' is not a SemVer 2.0 version (e.g. 2.4.0).")]
    public async Task Build_NamesTheVersionThatIsNotSemVer(string version, string min, string max, string message)
    {
        FixManifest template = Template() with { Version = version, AppliesTo = Template().AppliesTo with { MinVersion = min, MaxVersion = max } };

        Func<Task> build = () => FixPackage.BuildAsync(Source, template, [_release[0], _release[1]], Path.Combine(_folder.Path, "bad.rsfix"));

        (await build.Should().ThrowAsync<ArgumentException>()).Which.Should().Match<ArgumentException>(e => e.ParamName == "template" && e.Message.StartsWith(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Build_RefusesAFileWhosePathCannotBeAnEntry_AndWritesNothing()
    {
        await File.WriteAllTextAsync(Path.Combine(Source, "bin", "bad\u0001name.dll"), "x");
        string package = Path.Combine(_folder.Path, "bad.rsfix");

        Func<Task> build = () => FixPackage.BuildAsync(Source, Template(), [_release[0], _release[1]], package);

        (await build.Should().ThrowAsync<ArgumentException>()).Which.Should().Match<ArgumentException>(e =>
            e.ParamName == "sourceFolder" && e.Message.StartsWith("'bin/bad\u0001name.dll' cannot be packaged: ", StringComparison.Ordinal));
        File.Exists(package).Should().BeFalse();
    }

    [Fact]
    public async Task Build_ReplacesTheFolderFiles_KeepsOnlyTheTemplatesDeletes_AndAnEmptyFileVerifies()
    {
        await File.WriteAllBytesAsync(Path.Combine(Source, "config", "empty.json"), []);
        FixManifest template = Template() with
        {
            Files = [new FixFile("bin/old.dll", FixFileAction.Delete, 0, "", []), new FixFile("bin/stray.dll", FixFileAction.Add, 1, "00", ["00"])],
        };

        string package = Path.Combine(_folder.Path, "built.rsfix");
        FixManifest built = await FixPackage.BuildAsync(Source, template, [_release[0], _release[1]], package);

        built.Files.Select(f => (f.Path, f.Action)).Should().Equal(
            ("bin/app.dll", FixFileAction.Replace), ("config/app.json", FixFileAction.Replace), ("config/empty.json", FixFileAction.Replace), ("bin/old.dll", FixFileAction.Delete));
        FixFile empty = built.Files.Single(f => f.Path == "config/empty.json");
        empty.Length.Should().Be(0);
        empty.ChunkHashes.Should().BeEmpty();
        FixVerification verified = await VerifyAsync(package);
        verified.IsValid.Should().BeTrue(verified.Sentence);
        (await File.ReadAllBytesAsync(Path.Combine(Staging, "config", "empty.json"))).Should().BeEmpty();
    }

    [Fact]
    public async Task Build_NeverWritesOverAnExistingPackage()
    {
        string package = Path.Combine(_folder.Path, "taken.rsfix");
        await File.WriteAllTextAsync(package, "someone else's");

        await FluentActions.Awaiting(() => FixPackage.BuildAsync(Source, Template(), [_release[0], _release[1]], package)).Should().ThrowAsync<IOException>();

        (await File.ReadAllTextAsync(package)).Should().Be("someone else's");
    }
}
