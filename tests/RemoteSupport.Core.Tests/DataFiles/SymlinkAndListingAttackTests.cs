using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.GroundRules;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.DataFiles;

/// <summary>
/// Symbolic link layouts that fool a textual containment check, with no race needed, and a listing
/// that reaches past the scope's patterns (issue 15). Each test checks the outside file too.
/// </summary>
public sealed class SymlinkAndListingAttackTests : IDisposable
{
    private readonly ConsentFixture _f = new(rules: r => r with
    {
        DataScopes = [.. r.DataScopes, new DataScope("finance", ["reports/*"], "fabrikam")],
    });

    private readonly TemporaryFolder _root = new();
    private readonly TemporaryFolder _outside = new();
    private readonly Dictionary<string, string> _roots;

    public SymlinkAndListingAttackTests()
    {
        Directory.CreateDirectory(Path.Combine(_root.Path, "ledger"));
        Directory.CreateDirectory(_outside.File("sub"));
        File.WriteAllText(_outside.File("secret.txt"), "not yours");
        File.WriteAllText(Path.Combine(_outside.File("sub"), "x.txt"), "outside x");

        // ledger/b -> /outside/sub; ledger/a -> "b/../secret.txt": as text, root/ledger/secret.txt; to the kernel, /outside/secret.txt.
        Directory.CreateSymbolicLink(Path.Combine(_root.Path, "ledger", "b"), _outside.File("sub"));
        File.CreateSymbolicLink(Path.Combine(_root.Path, "ledger", "a"), "b/../secret.txt");
        _roots = new Dictionary<string, string> { ["finance"] = _root.Path };
    }

    public void Dispose()
    {
        _f.Dispose();
        _root.Dispose();
        _outside.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task LinkThroughADirectoryLink_View_IsRefused(bool beneathRoot)
    {
        DataFileStore store = Store(beneathRoot);
        ConsentDecision granted = await GrantAsync(SupportOperation.ViewData, "ledger/a");

        await FluentActions.Awaiting(() => store.ViewAsync(granted)).Should().ThrowAsync<UnauthorizedAccessException>();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task LinkThroughADirectoryLink_Change_IsRefused_AndTheOutsideFileIsUntouched(bool beneathRoot)
    {
        DataFileStore store = Store(beneathRoot);
        ConsentDecision granted = await GrantAsync(SupportOperation.ChangeData, "ledger/a");

        await FluentActions.Awaiting(() => store.ReplaceAsync(granted, "pwned"u8.ToArray())).Should().ThrowAsync<UnauthorizedAccessException>();

        (await File.ReadAllTextAsync(_outside.File("secret.txt"))).Should().Be("not yours");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DirectoryLink_Create_IsRefused_AndNothingLandsOutside(bool beneathRoot)
    {
        DataFileStore store = Store(beneathRoot);
        ConsentDecision granted = await GrantAsync(SupportOperation.ChangeData, "ledger/b/new.txt");

        await FluentActions.Awaiting(() => store.ReplaceAsync(granted, "planted"u8.ToArray())).Should().ThrowAsync<UnauthorizedAccessException>();

        Directory.GetFiles(_outside.File("sub")).Select(Path.GetFileName).Should().Equal("x.txt");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DirectoryLink_Delete_IsRefused_AndTheOutsideFileStays(bool beneathRoot)
    {
        DataFileStore store = Store(beneathRoot);
        ConsentDecision granted = await GrantAsync(SupportOperation.ChangeData, "ledger/b/x.txt");

        await FluentActions.Awaiting(() => store.DeleteAsync(granted)).Should().ThrowAsync<UnauthorizedAccessException>();

        File.Exists(Path.Combine(_outside.File("sub"), "x.txt")).Should().BeTrue();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DirectoryLink_List_IsRefused(bool beneathRoot)
    {
        DataFileStore store = Store(beneathRoot);
        ConsentDecision granted = await GrantAsync(SupportOperation.ViewData, "ledger/b");

        FluentActions.Invoking(() => store.List(granted)).Should().Throw<UnauthorizedAccessException>();
    }

    [Fact]
    public async Task ListingAFolder_ReturnsOnlyFilesTheScopePatternsCover()
    {
        DataFileStore store = Store(BeneathRoot.IsSupported);
        // Scope reports/* covers reports/2025 (the folder) but not what lies deeper in it.
        Directory.CreateDirectory(Path.Combine(_root.Path, "reports", "2025", "hr", "private"));
        File.WriteAllText(Path.Combine(_root.Path, "reports", "2025", "hr", "private", "salaries.xlsx"), "secret");
        ConsentDecision granted = await GrantAsync(SupportOperation.ViewData, "reports/2025");

        (IReadOnlyList<DataFileEntry> entries, bool truncated) = store.List(granted);

        entries.Should().BeEmpty();
        truncated.Should().BeFalse();
    }

    [Fact]
    public async Task ListingAFolder_WithABroadApproval_IsStillConfinedToTheScope()
    {
        DataFileStore store = Store(BeneathRoot.IsSupported);
        Directory.CreateDirectory(Path.Combine(_root.Path, "reports", "2025", "hr"));
        File.WriteAllText(Path.Combine(_root.Path, "reports", "2025", "hr", "salaries.xlsx"), "secret");
        ConsentRequest request = _f.Request(SupportOperation.ViewData, "reports/2025");
        // The approval's pattern reaches every file below reports/; the scope (reports/*) does not.
        ConsentDecision granted = await _f.Gate().DecideAsync(request, [_f.Approve(request, [_f.ItApprover], a => a with { PathPatterns = ["reports/**"] })]);
        granted.IsGranted.Should().BeTrue(granted.Sentence);

        store.List(granted).Entries.Should().BeEmpty();
    }

    /// <summary>The store, opening paths beneath the root (Linux) or checking each opened file's real path (elsewhere).</summary>
    private DataFileStore Store(bool beneathRoot) => new(_roots) { ResolvesBeneathRoot = beneathRoot && BeneathRoot.IsSupported };

    private Task<ConsentDecision> GrantAsync(SupportOperation operation, string path) => _f.GrantAsync(_f.Request(operation, path));
}
